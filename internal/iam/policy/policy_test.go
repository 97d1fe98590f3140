package policy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// lambdaStatement is the shape AddPermission stores for an S3 trigger.
const lambdaStatement = `{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:f","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}}`

func TestParseIdentityValid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want *Document
	}{
		{
			name: "single statement object and strings",
			doc:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:*","Resource":"*"}}`,
			want: &Document{Version: Version2012, Statement: []Statement{{Effect: "Allow", Action: StringList{"lambda:*"}, Resource: StringList{"*"}}}},
		},
		{
			name: "missing version means 2008-10-17",
			doc:  `{"Statement":[{"Effect":"Deny","NotAction":["lambda:Get*","lambda:List*"],"NotResource":"arn:aws:lambda:*:*:function:public-*"}]}`,
			want: &Document{Statement: []Statement{{
				Effect: "Deny", NotAction: StringList{"lambda:Get*", "lambda:List*"},
				NotResource: StringList{"arn:aws:lambda:*:*:function:public-*"},
			}}},
		},
		{
			name: "old version, id, sid and conditions with bool and number values",
			doc: `{"Version":"2008-10-17","Id":"p1","Statement":[{"Sid":"A1","Effect":"Allow","Action":"*","Resource":"*",
				"Condition":{"Bool":{"aws:SecureTransport":true},"StringEqualsIfExists":{"aws:RequestTag/n":[1,"x"]}}}]}`,
			want: &Document{Version: Version2008, ID: "p1", Statement: []Statement{{
				Sid: "A1", Effect: "Allow", Action: StringList{"*"}, Resource: StringList{"*"},
				Condition: map[string]map[string]StringList{
					"Bool":                 {"aws:SecureTransport": {"true"}},
					"StringEqualsIfExists": {"aws:RequestTag/n": {"1", "x"}},
				},
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIdentity([]byte(tt.doc))
			if err != nil {
				t.Fatalf("ParseIdentity: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("document mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	const (
		allow  = `"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"`
		anyone = `"Principal":"*"`
	)
	identity := func(stmt string) string { return `{"Version":"2012-10-17","Statement":[{` + stmt + `}]}` }
	tests := []struct {
		name     string
		resource bool // ParseResource instead of ParseIdentity
		doc      string
		want     string
	}{
		{"not json", false, `{"Version":`, "Syntax errors in policy."},
		{"trailing data", false, identity(allow) + `x`, "Syntax errors in policy."},
		{"array at top", false, `[` + identity(allow) + `]`, "Syntax errors in policy."},
		{"null document", true, `null`, "Syntax errors in policy."},
		{"unknown top-level element", false, `{"Version":"2012-10-17","Statment":[{` + allow + `}]}`, "Syntax errors in policy."},
		{"element names are case-sensitive", false, identity(`"effect":"Allow","Action":"s3:*","Resource":"*"`), "Syntax errors in policy."},
		{"version not a string", false, `{"Version":2012,"Statement":[{` + allow + `}]}`, "Syntax errors in policy."},
		{"bad version", false, `{"Version":"2012-10-18","Statement":[{` + allow + `}]}`, "Policy document must be version 2012-10-17 or 2008-10-17"},
		{"empty version", false, `{"Version":"","Statement":[{` + allow + `}]}`, "Policy document must be version 2012-10-17 or 2008-10-17"},
		{"no statement", false, `{"Version":"2012-10-17"}`, "Missing required field Statement"},
		{"empty statement list", false, `{"Version":"2012-10-17","Statement":[]}`, "Missing required field Statement"},
		{"statement is a string", false, `{"Version":"2012-10-17","Statement":"x"}`, "Syntax errors in policy."},
		{"missing effect", false, identity(`"Action":"s3:*","Resource":"*"`), "Missing required field Effect"},
		{"invalid effect", false, identity(`"Effect":"Permit","Action":"s3:*","Resource":"*"`), "Invalid effect: Permit"},
		{"effect is case-sensitive", false, identity(`"Effect":"allow","Action":"s3:*","Resource":"*"`), "Invalid effect: allow"},
		{"no actions", false, identity(`"Effect":"Allow","Resource":"*"`), "Policy statement must contain actions."},
		{"empty action list", false, identity(`"Effect":"Allow","Action":[],"Resource":"*"`), "Policy statement must contain actions."},
		{"action and notaction", false, identity(`"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"`), "Syntax errors in policy."},
		{"action without vendor", false, identity(`"Effect":"Allow","Action":"InvokeFunction","Resource":"*"`), "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
		{"action with two colons", false, identity(`"Effect":"Allow","Action":"lambda:a:b","Resource":"*"`), "Actions/Condition can contain only one colon."},
		{"action is a number", false, identity(`"Effect":"Allow","Action":5,"Resource":"*"`), "Syntax errors in policy."},
		{"no resources", false, identity(`"Effect":"Allow","Action":"s3:*"`), "Policy statement must contain resources."},
		{"resource and notresource", false, identity(`"Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"*"`), "Syntax errors in policy."},
		{"resource not an arn", false, identity(`"Effect":"Allow","Action":"s3:*","Resource":"bucket"`), `Resource bucket must be in ARN format or "*".`},
		{"identity with principal", false, identity(anyone + `,` + allow), "Has prohibited field Principal"},
		{"notprincipal", true, `{"Statement":[{"NotPrincipal":"*",` + allow + `}]}`, "Syntax errors in policy."},
		{"identity sid not alphanumeric", false, identity(`"Sid":"allow-s3",` + allow), "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"},
		{"duplicate sid", true, `{"Statement":[{"Sid":"a",` + anyone + `,` + allow + `},{"Sid":"a",` + anyone + `,` + allow + `}]}`, "Statement IDs (SID) in a single policy must be unique."},
		{"unknown operator", false, identity(allow + `,"Condition":{"StringEqualz":{"aws:username":"a"}}`), "Unsupported Condition operator"},
		{"numeric operator unsupported", false, identity(allow + `,"Condition":{"NumericLessThan":{"s3:max-keys":"10"}}`), "Unsupported Condition operator"},
		{"set qualifier unsupported", false, identity(allow + `,"Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"a"}}`), "Unsupported Condition operator"},
		{"null has no ifexists", false, identity(allow + `,"Condition":{"NullIfExists":{"aws:username":"true"}}`), "Unsupported Condition operator"},
		{"condition key without vendor", false, identity(allow + `,"Condition":{"StringEquals":{"username":"a"}}`), "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
		{"condition without values", false, identity(allow + `,"Condition":{"StringEquals":{"aws:username":[]}}`), "Syntax errors in policy."},
		{"condition value is an object", false, identity(allow + `,"Condition":{"StringEquals":{"aws:username":{}}}`), "Syntax errors in policy."},
		{"resource policy without principal", true, `{"Statement":[{` + allow + `}]}`, "Missing required field Principal"},
		{"principal string other than *", true, `{"Statement":[{"Principal":"arn:aws:iam::123456789012:root",` + allow + `}]}`, `Invalid principal in policy: "arn:aws:iam::123456789012:root"`},
		{"federated principal", true, `{"Statement":[{"Principal":{"Federated":"cognito-identity.amazonaws.com"},` + allow + `}]}`, `Invalid principal in policy: "Federated"`},
		{"empty principal object", true, `{"Statement":[{"Principal":{},` + allow + `}]}`, "Invalid principal in policy"},
		{"bad account id", true, `{"Statement":[{"Principal":{"AWS":"12345"},` + allow + `}]}`, `Invalid principal in policy: "AWS":"12345"`},
		{"principal arn of another service", true, `{"Statement":[{"Principal":{"AWS":"arn:aws:s3:::bucket"},` + allow + `}]}`, `Invalid principal in policy: "AWS":"arn:aws:s3:::bucket"`},
		{"wildcard service", true, `{"Statement":[{"Principal":{"Service":"*"},` + allow + `}]}`, `Invalid principal in policy: "SERVICE":"*"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parse := ParseIdentity
			if tt.resource {
				parse = ParseResource
			}
			doc, err := parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("parse succeeded with %+v, want error %q", doc, tt.want)
			}
			var malformed *MalformedError
			if !errors.As(err, &malformed) {
				t.Fatalf("error %v is %T, want *MalformedError", err, err)
			}
			if malformed.Message != tt.want || err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err.Error(), tt.want)
			}
		})
	}
}

func TestParseResourceValid(t *testing.T) {
	docs := []string{
		`{"Version":"2012-10-17","Id":"default","Statement":[` + lambdaStatement + `]}`,
		`{"Statement":{"Sid":"url-public_1","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"*","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}}}`,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::123456789012:root","arn:aws:iam::123456789012:user/path/alice",` +
			`"arn:aws:iam::123456789012:role/r","arn:aws:sts::123456789012:assumed-role/r/s","*"]},"Action":"lambda:*","Resource":"*"}}`,
	}
	for _, doc := range docs {
		if _, err := ParseResource([]byte(doc)); err != nil {
			t.Errorf("ParseResource(%s): %v", doc, err)
		}
	}
}

func TestIdentitySizeLimit(t *testing.T) {
	// build returns an identity policy whose compact form is exactly n bytes.
	build := func(n int) string {
		head := `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::`
		tail := `"}}`
		return head + strings.Repeat("b", n-len(head)-len(tail)) + tail
	}
	atLimit := build(MaxIdentityPolicyBytes)
	if _, err := ParseIdentity([]byte(atLimit)); err != nil {
		t.Errorf("policy of exactly %d bytes: %v", MaxIdentityPolicyBytes, err)
	}
	// Whitespace outside strings does not count, as in IAM.
	indented := strings.Replace(atLimit, `{"Effect"`, "{\n    \n    \"Effect\"", 1)
	if _, err := ParseIdentity([]byte(indented)); err != nil {
		t.Errorf("indented policy at the limit: %v", err)
	}
	over := build(MaxIdentityPolicyBytes + 1)
	_, err := ParseIdentity([]byte(over))
	var malformed *MalformedError
	if !errors.As(err, &malformed) || malformed.Message != "Cannot exceed quota for PolicySize: 10240" {
		t.Errorf("policy of %d bytes: error %v, want the PolicySize quota error", MaxIdentityPolicyBytes+1, err)
	}
	// Resource policies have their own limit, enforced by their owner.
	big := `{"Statement":{"Principal":"*","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::` + strings.Repeat("b", 20000) + `"}}`
	if _, err := ParseResource([]byte(big)); err != nil {
		t.Errorf("ParseResource of a 20 KB policy: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		resource bool
		doc      string
	}{
		{"lambda statement", true, `{"Version":"2012-10-17","Id":"default","Statement":[` + lambdaStatement + `]}`},
		{"wildcard principal and string condition", true, `{"Version":"2012-10-17","Statement":[{"Sid":"FunctionURLAllowPublicAccess","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"arn:aws:lambda:us-east-1:000000000000:function:f","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}}]}`},
		{"both principal kinds, arrays kept", true, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":["123456789012","arn:aws:iam::123456789012:role/r"],"Service":"events.amazonaws.com"},"Action":["lambda:InvokeFunction","lambda:GetFunction"],"Resource":["arn:aws:lambda:us-east-1:000000000000:function:f","arn:aws:lambda:us-east-1:000000000000:function:f:*"]}]}`},
		{"not elements and ampersand", false, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","NotResource":["arn:aws:s3:::a&b","arn:aws:s3:::<c>"],"Condition":{"StringLike":{"aws:username":["a*","b?"]},"StringNotEquals":{"aws:SourceAccount":"111111111111"}}}]}`},
		{"no version", false, `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parse := ParseIdentity
			if tt.resource {
				parse = ParseResource
			}
			doc, err := parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := string(doc.JSON()); got != tt.doc {
				t.Errorf("JSON() =\n%s\nwant\n%s", got, tt.doc)
			}
		})
	}
}

func TestStatementRoundTripAlone(t *testing.T) {
	var s Statement
	if err := json.Unmarshal([]byte(lambdaStatement), &s); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	want := Statement{
		Sid: "s3", Effect: "Allow",
		Principal: &Principal{Service: StringList{"s3.amazonaws.com"}},
		Action:    StringList{"lambda:InvokeFunction"},
		Resource:  StringList{"arn:aws:lambda:us-east-1:000000000000:function:f"},
		Condition: map[string]map[string]StringList{"ArnLike": {"AWS:SourceArn": {"arn:aws:s3:::bucket"}}},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("statement mismatch (-want +got):\n%s", diff)
	}
	// A statement built in code, as AddPermission does, renders the same bytes.
	got, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if string(got) != lambdaStatement {
		t.Errorf("json.Marshal =\n%s\nwant\n%s", got, lambdaStatement)
	}
}

func TestNormalisedForms(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			"single statement object becomes a list; one-element array becomes a string",
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"}}`,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`,
		},
		{
			"bool and number condition values become strings",
			`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false},"StringEquals":{"s3:max-keys":[10,"20"]}}}]}`,
			`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"},"StringEquals":{"s3:max-keys":["10","20"]}}}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := ParseIdentity([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseIdentity: %v", err)
			}
			if got := string(doc.JSON()); got != tt.want {
				t.Errorf("JSON() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestMarshalBuiltValues(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"wildcard principal", Principal{Wildcard: true, AWS: StringList{"ignored"}}, `"*"`},
		{"aws principal list", Principal{AWS: StringList{"1", "2"}}, `{"AWS":["1","2"]}`},
		{"empty string list", StringList{}, `[]`},
		{"empty document", &Document{}, `{"Statement":[]}`},
		{"statement without optional elements", Statement{Effect: "Allow"}, `{"Effect":"Allow"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestStringListUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    StringList
		wantErr bool
	}{
		{in: `"a"`, want: StringList{"a"}},
		{in: `["a","b"]`, want: StringList{"a", "b"}},
		{in: `[]`, want: StringList{}},
		{in: `null`, want: nil},
		{in: `5`, wantErr: true},
		{in: `true`, wantErr: true}, // only condition values take scalars
		{in: `["a",1]`, wantErr: true},
		{in: `{"a":"b"}`, wantErr: true},
	}
	for _, tt := range tests {
		var got StringList
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr {
			t.Errorf("Unmarshal(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); !tt.wantErr && diff != "" {
			t.Errorf("Unmarshal(%s) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestUnmarshalRejectsUnknownPrincipalKind(t *testing.T) {
	var doc Document
	err := json.Unmarshal([]byte(`{"Statement":[{"Effect":"Allow","Principal":{"CanonicalUser":"abc"},"Action":"s3:*","Resource":"*"}]}`), &doc)
	var malformed *MalformedError
	if !errors.As(err, &malformed) {
		t.Fatalf("json.Unmarshal error = %v, want *MalformedError", err)
	}
}

func FuzzParseIdentity(f *testing.F) {
	seeds := []string{
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:*","Resource":"*"}}`,
		`{"Statement":[{"Sid":"A","Effect":"Deny","NotAction":["s3:*"],"NotResource":"arn:aws:s3:::b/${aws:username}/*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLikeIfExists":{"aws:SourceArn":["arn:*",1,true]},"Null":{"aws:username":"false"}}}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`,
		`{"Version":"2012-10-17","Statement":[]}`,
		`[]`, `null`, `{"Statement":"`, "",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseIdentity(data)
		if err != nil {
			var malformed *MalformedError
			if !errors.As(err, &malformed) {
				t.Fatalf("error %v is %T, want *MalformedError", err, err)
			}
			return
		}
		// A parsed document renders to JSON that decodes and validates again,
		// and rendering is stable from then on.
		first := doc.JSON()
		var again Document
		if err := json.Unmarshal(first, &again); err != nil {
			t.Fatalf("re-decode %s: %v", first, err)
		}
		if err := again.validate(true); err != nil {
			t.Fatalf("re-validate %s: %v", first, err)
		}
		if second := again.JSON(); string(second) != string(first) {
			t.Fatalf("unstable rendering:\n%s\n%s", first, second)
		}
		// Evaluating never panics either.
		Evaluate(Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: map[string]string{"aws:username": "u"}},
			[]*Document{doc}, nil)
	})
}
