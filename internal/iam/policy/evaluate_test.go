package policy

import (
	"testing"
)

const (
	account  = "123456789012"
	function = "arn:aws:lambda:us-east-1:123456789012:function:f"
	alice    = "arn:aws:iam::123456789012:user/alice"
	session  = "arn:aws:sts::123456789012:assumed-role/deployer/ci-run"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, value  string
		caseInsensitive bool
		want            bool
	}{
		{"*", "", false, true},
		{"*", "anything:at/all", false, true},
		{"", "", false, true},
		{"", "x", false, false},
		{"abc", "abc", false, true},
		{"abc", "ABC", false, false},
		{"abc", "ABC", true, true},
		{"lambda:Invoke*", "lambda:InvokeFunction", false, true},
		{"lambda:invoke*", "lambda:InvokeFunctionUrl", true, true},
		{"lambda:Invoke*", "lambda:GetFunction", true, false},
		{"lambda:*", "lambda:", false, true},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"a?c", "aéc", false, true}, // '?' is one character, not one byte
		{"a*b*c", "axxbyyc", false, true},
		{"a*b*c", "axxbyy", false, false},
		{"*:function:f", "arn:aws:lambda:us-east-1:1:function:f", false, true},
		{"a**", "a", false, true},
		{"*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, false},
		{"abc", "ab", false, false},
		{"ab", "abc", false, false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.value, tt.caseInsensitive); got != tt.want {
			t.Errorf("Match(%q, %q, %v) = %v, want %v", tt.pattern, tt.value, tt.caseInsensitive, got, tt.want)
		}
	}
}

func TestStatementMatchesActionAndResource(t *testing.T) {
	req := func(action, resource string) Request {
		return Request{Principal: alice, Action: action, Resource: resource}
	}
	tests := []struct {
		name string
		stmt Statement
		req  Request
		want bool
	}{
		{"exact action", Statement{Action: StringList{"lambda:InvokeFunction"}, Resource: StringList{"*"}}, req("lambda:InvokeFunction", function), true},
		{"action case-insensitive", Statement{Action: StringList{"LAMBDA:invokefunction"}, Resource: StringList{"*"}}, req("lambda:InvokeFunction", function), true},
		{"action prefix glob", Statement{Action: StringList{"lambda:Get*"}, Resource: StringList{"*"}}, req("lambda:InvokeFunction", function), false},
		{"any of several actions", Statement{Action: StringList{"s3:*", "lambda:Invoke*"}, Resource: StringList{"*"}}, req("lambda:InvokeFunction", function), true},
		{"service wildcard", Statement{Action: StringList{"lambda:*"}, Resource: StringList{"*"}}, req("lambda:DeleteFunction", function), true},
		{"notaction excludes", Statement{NotAction: StringList{"lambda:Delete*"}, Resource: StringList{"*"}}, req("lambda:DeleteFunction", function), false},
		{"notaction admits others", Statement{NotAction: StringList{"lambda:Delete*", "iam:*"}, Resource: StringList{"*"}}, req("lambda:InvokeFunction", function), true},
		{"notaction ignores case", Statement{NotAction: StringList{"LAMBDA:DELETE*"}, Resource: StringList{"*"}}, req("lambda:DeleteFunction", function), false},
		{"no action element", Statement{Resource: StringList{"*"}}, req("lambda:InvokeFunction", function), false},
		{"no resource element", Statement{Action: StringList{"*"}}, req("lambda:InvokeFunction", function), false},
		{"unqualified resource matches unqualified invoke", Statement{Action: StringList{"*"}, Resource: StringList{"arn:aws:lambda:*:*:function:f"}}, req("lambda:InvokeFunction", function), true},
		{"unqualified resource rejects qualified invoke", Statement{Action: StringList{"*"}, Resource: StringList{"arn:aws:lambda:*:*:function:f"}}, req("lambda:InvokeFunction", function+":prod"), false},
		{"f* covers qualified", Statement{Action: StringList{"*"}, Resource: StringList{"arn:aws:lambda:*:*:function:f*"}}, req("lambda:InvokeFunction", function+":prod"), true},
		{"f:* covers qualified", Statement{Action: StringList{"*"}, Resource: StringList{"arn:aws:lambda:*:*:function:f:*"}}, req("lambda:InvokeFunction", function+":prod"), true},
		{"f:* not unqualified", Statement{Action: StringList{"*"}, Resource: StringList{"arn:aws:lambda:*:*:function:f:*"}}, req("lambda:InvokeFunction", function), false},
		{"resource case-sensitive", Statement{Action: StringList{"*"}, Resource: StringList{"arn:aws:lambda:*:*:function:F"}}, req("lambda:InvokeFunction", function), false},
		{"resource star crosses colons", Statement{Action: StringList{"*"}, Resource: StringList{"arn:aws:lambda:*"}}, req("lambda:InvokeFunction", function+":1"), true},
		{"resource question mark", Statement{Action: StringList{"*"}, Resource: StringList{"arn:aws:lambda:us-east-?:*:function:f"}}, req("lambda:InvokeFunction", function), true},
		{"notresource excludes", Statement{Action: StringList{"*"}, NotResource: StringList{"arn:aws:lambda:*:*:function:f*"}}, req("lambda:InvokeFunction", function), false},
		{"notresource admits others", Statement{Action: StringList{"*"}, NotResource: StringList{"arn:aws:lambda:*:*:function:g"}}, req("lambda:InvokeFunction", function), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.stmt.Matches(tt.req); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPrincipalMatches(t *testing.T) {
	iamCaller := func(arn string) Request { return Request{Principal: arn} }
	s3 := Request{Service: "s3.amazonaws.com"}
	tests := []struct {
		name      string
		principal Principal
		req       Request
		want      bool
	}{
		{"wildcard matches user", Principal{Wildcard: true}, iamCaller(alice), true},
		{"wildcard matches service", Principal{Wildcard: true}, s3, true},
		{"wildcard matches anonymous", Principal{Wildcard: true}, Request{}, true},
		{"aws wildcard matches role session", Principal{AWS: StringList{"*"}}, iamCaller(session), true},
		{"account id matches user", Principal{AWS: StringList{account}}, iamCaller(alice), true},
		{"account id matches role session", Principal{AWS: StringList{account}}, iamCaller(session), true},
		{"account id matches root", Principal{AWS: StringList{account}}, iamCaller("arn:aws:iam::123456789012:root"), true},
		{"account id rejects other account", Principal{AWS: StringList{"111111111111"}}, iamCaller(alice), false},
		{"root arn matches any principal of account", Principal{AWS: StringList{"arn:aws:iam::123456789012:root"}}, iamCaller(alice), true},
		{"root arn rejects other account", Principal{AWS: StringList{"arn:aws:iam::111111111111:root"}}, iamCaller(alice), false},
		{"user arn exact", Principal{AWS: StringList{alice}}, iamCaller(alice), true},
		{"user arn rejects other user", Principal{AWS: StringList{"arn:aws:iam::123456789012:user/bob"}}, iamCaller(alice), false},
		{"user arn rejects same-prefix user", Principal{AWS: StringList{alice}}, iamCaller(alice + "2"), false},
		{"role arn matches its sessions", Principal{AWS: StringList{"arn:aws:iam::123456789012:role/deployer"}}, iamCaller(session), true},
		{"role arn with path matches its sessions", Principal{AWS: StringList{"arn:aws:iam::123456789012:role/team/deployer"}}, iamCaller(session), true},
		{"role arn rejects other role", Principal{AWS: StringList{"arn:aws:iam::123456789012:role/deploy"}}, iamCaller(session), false},
		{"role arn rejects other account", Principal{AWS: StringList{"arn:aws:iam::111111111111:role/deployer"}}, iamCaller("arn:aws:sts::111111111112:assumed-role/deployer/s"), false},
		{"role arn rejects user of same name", Principal{AWS: StringList{"arn:aws:iam::123456789012:role/alice"}}, iamCaller(alice), false},
		{"session arn exact", Principal{AWS: StringList{session}}, iamCaller(session), true},
		{"one of several", Principal{AWS: StringList{"111111111111", alice}}, iamCaller(alice), true},
		{"service matches", Principal{Service: StringList{"s3.amazonaws.com"}}, s3, true},
		{"service ignores case", Principal{Service: StringList{"S3.AmazonAWS.com"}}, s3, true},
		{"service rejects other service", Principal{Service: StringList{"sns.amazonaws.com"}}, s3, false},
		{"service never matches iam caller", Principal{Service: StringList{"s3.amazonaws.com"}}, iamCaller(alice), false},
		{"account never matches service", Principal{AWS: StringList{account}}, Request{Service: "s3.amazonaws.com", Principal: alice}, false},
		{"account never matches anonymous", Principal{AWS: StringList{account}}, Request{}, false},
		{"both kinds, iam side", Principal{AWS: StringList{alice}, Service: StringList{"s3.amazonaws.com"}}, iamCaller(alice), true},
		{"both kinds, service side", Principal{AWS: StringList{alice}, Service: StringList{"s3.amazonaws.com"}}, s3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stmt := Statement{Principal: &tt.principal, Action: StringList{"*"}, Resource: StringList{"*"}}
			req := tt.req
			req.Action, req.Resource = "lambda:InvokeFunction", function
			if got := stmt.Matches(req); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConditions(t *testing.T) {
	const bucket = "arn:aws:s3:::bucket"
	ctx := map[string]string{
		"aws:SourceArn":              bucket,
		"aws:SourceAccount":          account,
		"aws:username":               "alice",
		"aws:SecureTransport":        "true",
		"lambda:FunctionUrlAuthType": "AWS_IAM",
		"lambda:FunctionArn":         function,
	}
	type cond = map[string]map[string]StringList
	tests := []struct {
		name string
		cond cond
		want bool
	}{
		{"StringEquals match", cond{"StringEquals": {"aws:username": {"alice"}}}, true},
		{"StringEquals case-sensitive", cond{"StringEquals": {"aws:username": {"Alice"}}}, false},
		{"StringEquals no wildcards", cond{"StringEquals": {"aws:username": {"al*"}}}, false},
		{"values are OR", cond{"StringEquals": {"aws:username": {"bob", "alice"}}}, true},
		{"keys are AND", cond{"StringEquals": {"aws:username": {"alice"}, "aws:SourceAccount": {"111111111111"}}}, false},
		{"operators are AND", cond{"StringEquals": {"aws:username": {"alice"}}, "Bool": {"aws:SecureTransport": {"false"}}}, false},
		{"key names case-insensitive", cond{"ArnLike": {"AWS:SOURCEARN": {bucket}}}, true},
		{"operator names case-insensitive", cond{"stringequals": {"aws:username": {"alice"}}}, true},
		{"missing key: StringEquals false", cond{"StringEquals": {"aws:PrincipalOrgID": {"o-1"}}}, false},
		{"missing key: StringNotEquals true", cond{"StringNotEquals": {"aws:PrincipalOrgID": {"o-1"}}}, true},
		{"missing key: ArnNotLike true", cond{"ArnNotLike": {"aws:SourceOwner": {"arn:*"}}}, true},
		{"missing key: IfExists true", cond{"StringEqualsIfExists": {"aws:PrincipalOrgID": {"o-1"}}}, true},
		{"present key: IfExists checks", cond{"StringEqualsIfExists": {"aws:username": {"bob"}}}, false},
		{"StringNotEquals excludes", cond{"StringNotEquals": {"aws:username": {"bob", "alice"}}}, false},
		{"StringNotEquals admits", cond{"StringNotEquals": {"aws:username": {"bob"}}}, true},
		{"StringEqualsIgnoreCase", cond{"StringEqualsIgnoreCase": {"aws:username": {"ALICE"}}}, true},
		{"StringNotEqualsIgnoreCase", cond{"StringNotEqualsIgnoreCase": {"aws:username": {"ALICE"}}}, false},
		{"StringLike glob", cond{"StringLike": {"aws:username": {"a?i*"}}}, true},
		{"StringLike case-sensitive", cond{"StringLike": {"aws:username": {"A*"}}}, false},
		{"StringNotLike", cond{"StringNotLike": {"aws:username": {"a*"}}}, false},
		{"StringNotLikeIfExists missing", cond{"StringNotLikeIfExists": {"aws:userid": {"a*"}}}, true},
		{"ArnEquals exact", cond{"ArnEquals": {"aws:SourceArn": {bucket}}}, true},
		{"ArnLike per-field wildcard", cond{"ArnLike": {"aws:SourceArn": {"arn:aws:s3:::buck*"}}}, true},
		{"ArnLike star stays in its field", cond{"ArnLike": {"lambda:FunctionArn": {"arn:aws:lambda:*:function:f"}}}, false},
		{"ArnLike star in resource field crosses colons", cond{"ArnLike": {"lambda:FunctionArn": {"arn:aws:lambda:*:*:*"}}}, true},
		{"ArnLike short pattern is a whole-value glob", cond{"ArnLike": {"lambda:FunctionArn": {"arn:aws:lambda:*"}}}, true},
		{"ArnLike field wildcards", cond{"ArnLike": {"aws:SourceArn": {"arn:*:s3:*:*:bucket"}}}, true},
		{"ArnLike whole-value star", cond{"ArnLike": {"aws:SourceArn": {"*"}}}, true},
		{"ArnLike non-arn value", cond{"ArnLike": {"aws:username": {"*"}}}, false},
		{"ArnNotEquals", cond{"ArnNotEquals": {"aws:SourceArn": {"arn:aws:s3:::other"}}}, true},
		{"ArnNotLike", cond{"ArnNotLike": {"aws:SourceArn": {"arn:aws:s3:::*"}}}, false},
		{"Bool true", cond{"Bool": {"aws:SecureTransport": {"true"}}}, true},
		{"Bool ignores case", cond{"Bool": {"aws:SecureTransport": {"TRUE"}}}, true},
		{"Bool missing key false", cond{"Bool": {"aws:MultiFactorAuthPresent": {"true"}}}, false},
		{"BoolIfExists missing key true", cond{"BoolIfExists": {"aws:MultiFactorAuthPresent": {"false"}}}, true},
		{"Null true on absent key", cond{"Null": {"aws:TokenIssueTime": {"true"}}}, true},
		{"Null true on present key", cond{"Null": {"aws:username": {"true"}}}, false},
		{"Null false on present key", cond{"Null": {"aws:username": {"false"}}}, true},
		{"unknown operator never holds", cond{"NumericLessThan": {"aws:username": {"1"}}}, false},
		{"function url auth type", cond{"StringEquals": {"lambda:FunctionUrlAuthType": {"NONE"}}}, false},
		{"empty block holds", cond{"StringEquals": {}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stmt := Statement{Action: StringList{"*"}, Resource: StringList{"*"}, Condition: tt.cond}
			req := Request{Principal: alice, Action: "lambda:InvokeFunction", Resource: function, Context: ctx}
			if got := stmt.Matches(req); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPolicyVariables(t *testing.T) {
	const home = "arn:aws:lambda:us-east-1:123456789012:function:alice-"
	withUser := map[string]string{"aws:username": "alice"}
	tests := []struct {
		name     string
		version  string
		resource string
		cond     map[string]map[string]StringList
		ctx      map[string]string
		target   string
		want     bool
	}{
		{"variable in resource", Version2012, "arn:aws:lambda:*:*:function:${aws:username}-*", nil, withUser, home + "x", true},
		{"variable key case-insensitive", Version2012, "arn:aws:lambda:*:*:function:${AWS:UserName}-*", nil, withUser, home + "x", true},
		{"variable resolves to another user", Version2012, "arn:aws:lambda:*:*:function:${aws:username}-*", nil, map[string]string{"aws:username": "bob"}, home + "x", false},
		{"unresolved variable: no match", Version2012, "arn:aws:lambda:*:*:function:${aws:username}-*", nil, nil, home + "x", false},
		{"default value", Version2012, "arn:aws:lambda:*:*:function:${aws:username, 'alice'}-*", nil, nil, home + "x", true},
		{"substituted text is literal", Version2012, "arn:aws:lambda:*:*:function:${aws:username}", nil, map[string]string{"aws:username": "*"}, home + "x", false},
		{"escaped star is literal", Version2012, "arn:aws:lambda:*:*:function:a${*}", nil, nil, "arn:aws:lambda:us-east-1:1:function:a*", true},
		{"escaped star does not glob", Version2012, "arn:aws:lambda:*:*:function:a${*}", nil, nil, "arn:aws:lambda:us-east-1:1:function:ab", false},
		{"2008 version keeps text literal", Version2008, "arn:aws:lambda:*:*:function:${aws:username}-*", nil, withUser, home + "x", false},
		{"2008 version matches the literal text", "", "arn:aws:lambda:*:*:function:${aws:username}", nil, withUser, "arn:aws:lambda:us-east-1:1:function:${aws:username}", true},
		{"variable in condition", Version2012, "*", map[string]map[string]StringList{"StringEquals": {"lambda:FunctionTag/owner": {"${aws:username}"}}}, map[string]string{"aws:username": "alice", "lambda:FunctionTag/owner": "alice"}, home, true},
		{"unresolved variable is not negated into a match", Version2012, "*", map[string]map[string]StringList{"StringNotEquals": {"lambda:FunctionTag/owner": {"${aws:username}"}}}, map[string]string{"lambda:FunctionTag/owner": "alice"}, home, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := &Document{Version: tt.version, Statement: []Statement{{
				Effect: "Allow", Action: StringList{"lambda:*"}, Resource: StringList{tt.resource}, Condition: tt.cond,
			}}}
			req := Request{Principal: alice, Action: "lambda:InvokeFunction", Resource: tt.target, Context: tt.ctx}
			if got := Evaluate(req, []*Document{doc}, nil) == Allow; got != tt.want {
				t.Errorf("allowed = %v, want %v", got, tt.want)
			}
		})
	}
	// A NotResource with an unresolvable variable does not apply at all.
	deny := &Document{Version: Version2012, Statement: []Statement{{Effect: "Deny", Action: StringList{"*"}, NotResource: StringList{"arn:aws:lambda:*:*:function:${aws:username}"}}}}
	if got := Evaluate(Request{Principal: alice, Action: "lambda:InvokeFunction", Resource: function}, []*Document{deny}, nil); got != ImplicitDeny {
		t.Errorf("NotResource with unresolved variable: %v, want ImplicitDeny", got)
	}
}

func mustParse(t *testing.T, parse func([]byte) (*Document, error), doc string) *Document {
	t.Helper()
	d, err := parse([]byte(doc))
	if err != nil {
		t.Fatalf("parse %s: %v", doc, err)
	}
	return d
}

func TestEvaluate(t *testing.T) {
	allowInvoke := mustParse(t, ParseIdentity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:Invoke*","Resource":"*"}}`)
	allowAll := mustParse(t, ParseIdentity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	denyProd := mustParse(t, ParseIdentity, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"lambda:*","Resource":"arn:aws:lambda:*:*:function:*:prod"}}`)
	denyAllButGet := mustParse(t, ParseIdentity, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"lambda:Get*","Resource":"*"}}`)
	s3Trigger := mustParse(t, ParseResource, `{"Version":"2012-10-17","Id":"default","Statement":[`+lambdaStatement+`]}`)
	resourceAllowsAlice := mustParse(t, ParseResource, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"`+alice+`"},"Action":"lambda:InvokeFunction","Resource":"*"}}`)
	resourceDeniesAccount := mustParse(t, ParseResource, `{"Statement":{"Effect":"Deny","Principal":{"AWS":"`+account+`"},"Action":"lambda:*","Resource":"*"}}`)
	resourceDeniesBob := mustParse(t, ParseResource, `{"Statement":{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:user/bob"},"Action":"lambda:*","Resource":"*"}}`)
	publicURL := mustParse(t, ParseResource, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"`+function+`","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}}}`)
	noPrincipal := &Document{Statement: []Statement{{Effect: "Allow", Action: StringList{"*"}, Resource: StringList{"*"}}}}

	invoke := Request{Principal: alice, Action: "lambda:InvokeFunction", Resource: function}
	invokeProd := Request{Principal: alice, Action: "lambda:InvokeFunction", Resource: function + ":prod"}
	fromS3 := func(sourceArn string) Request {
		return Request{Service: "s3.amazonaws.com", Action: "lambda:InvokeFunction", Resource: "arn:aws:lambda:us-east-1:000000000000:function:f",
			Context: map[string]string{"aws:SourceArn": sourceArn}}
	}
	anonymousURL := Request{Action: "lambda:InvokeFunctionUrl", Resource: function, Context: map[string]string{"lambda:FunctionUrlAuthType": "NONE"}}

	tests := []struct {
		name     string
		req      Request
		identity []*Document
		resource *Document
		want     Decision
	}{
		{"nothing applies", invoke, nil, nil, ImplicitDeny},
		{"identity allow", invoke, []*Document{allowInvoke}, nil, Allow},
		{"identity allow does not cover other actions", Request{Principal: alice, Action: "lambda:DeleteFunction", Resource: function}, []*Document{allowInvoke}, nil, ImplicitDeny},
		{"deny in another document beats allow", invokeProd, []*Document{allowAll, denyProd}, nil, ExplicitDeny},
		{"deny order does not matter", invokeProd, []*Document{denyProd, allowAll}, nil, ExplicitDeny},
		{"deny does not reach unqualified", invoke, []*Document{allowAll, denyProd}, nil, Allow},
		{"notaction deny", invoke, []*Document{allowAll, denyAllButGet}, nil, ExplicitDeny},
		{"notaction deny spares excluded actions", Request{Principal: alice, Action: "lambda:GetFunction", Resource: function}, []*Document{allowAll, denyAllButGet}, nil, Allow},
		{"nil identity documents skipped", invoke, []*Document{nil, allowInvoke}, nil, Allow},
		{"resource policy allows service with matching source", fromS3("arn:aws:s3:::bucket"), nil, s3Trigger, Allow},
		{"resource policy condition rejects other source", fromS3("arn:aws:s3:::other"), nil, s3Trigger, ImplicitDeny},
		{"resource policy does not admit iam caller", invoke, nil, s3Trigger, ImplicitDeny},
		{"resource policy allows named user", invoke, nil, resourceAllowsAlice, Allow},
		{"resource deny beats identity allow", invoke, []*Document{allowAll}, resourceDeniesAccount, ExplicitDeny},
		{"resource deny for another principal does not apply", invoke, []*Document{allowAll}, resourceDeniesBob, Allow},
		{"identity deny beats resource allow", invokeProd, []*Document{denyProd}, resourceAllowsAlice, ExplicitDeny},
		{"public function url", anonymousURL, nil, publicURL, Allow},
		{"public url policy needs auth type NONE", Request{Principal: alice, Action: "lambda:InvokeFunctionUrl", Resource: function, Context: map[string]string{"lambda:FunctionUrlAuthType": "AWS_IAM"}}, nil, publicURL, ImplicitDeny},
		{"resource statement without principal skipped", invoke, nil, noPrincipal, ImplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Evaluate(tt.req, tt.identity, tt.resource); got != tt.want {
				t.Errorf("Evaluate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[Decision]string{ImplicitDeny: "ImplicitDeny", Allow: "Allow", ExplicitDeny: "ExplicitDeny", Decision(7): "Decision(7)"} {
		if got := d.String(); got != want {
			t.Errorf("Decision(%d).String() = %q, want %q", int(d), got, want)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	identity, err := ParseIdentity([]byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["lambda:Get*","lambda:Invoke*"],"Resource":"arn:aws:lambda:*:*:function:${aws:username}-*"},
		{"Effect":"Deny","Action":"lambda:*","Resource":"arn:aws:lambda:*:*:function:*:prod","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`))
	if err != nil {
		b.Fatal(err)
	}
	resource, err := ParseResource([]byte(`{"Version":"2012-10-17","Statement":[` + lambdaStatement + `]}`))
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Principal: alice, Action: "lambda:InvokeFunction", Resource: "arn:aws:lambda:us-east-1:123456789012:function:alice-f:prod",
		Context: map[string]string{"aws:username": "alice", "aws:MultiFactorAuthPresent": "true"}}
	b.ReportAllocs()
	for b.Loop() {
		if Evaluate(req, []*Document{identity}, resource) != Allow {
			b.Fatal("want Allow")
		}
	}
}
