package lambda

import (
	"errors"
	"testing"
)

func TestParseFunctionRef(t *testing.T) {
	tests := []struct {
		in   string
		want FunctionRef
	}{
		{"hello", FunctionRef{Name: "hello"}},
		{"hello:$LATEST", FunctionRef{Name: "hello", Qualifier: "$LATEST"}},
		{"hello:7", FunctionRef{Name: "hello", Qualifier: "7"}},
		{"hello:live", FunctionRef{Name: "hello", Qualifier: "live"}},
		{"123456789012:function:hello", FunctionRef{Name: "hello", Account: "123456789012"}},
		{"123456789012:function:hello:prod", FunctionRef{Name: "hello", Account: "123456789012", Qualifier: "prod"}},
		{"arn:aws:lambda:us-east-1:000000000000:function:hello", FunctionRef{Name: "hello", Region: "us-east-1", Account: "000000000000"}},
		{"arn:aws:lambda:eu-west-2:000000000000:function:my_fn-2:$LATEST", FunctionRef{Name: "my_fn-2", Region: "eu-west-2", Account: "000000000000", Qualifier: "$LATEST"}},
		{"arn:aws-us-gov:lambda:us-gov-west-1:000000000000:function:f", FunctionRef{Name: "f", Region: "us-gov-west-1", Account: "000000000000"}},
	}
	for _, tt := range tests {
		got, err := ParseFunctionRef(tt.in)
		if err != nil {
			t.Errorf("ParseFunctionRef(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseFunctionRef(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseFunctionRefRejects(t *testing.T) {
	for _, in := range []string{
		"", "hello world", "hello:", ":x", "a:b:c", "hello:$latest!", "arn:aws:s3:::bucket",
		"arn:aws:lambda:us-east-1:000000000000:layer:x", "arn:aws:lambda:us-east-1:0000:function:x",
		"12345678901:function:x", "123456789012:function:", "arn:aws:lambda:us-east-1:000000000000:function:x:",
		"this-name-is-far-too-long-for-a-lambda-function-name-because-it-goes-on-and-on",
		"../etc/passwd", "x/y", "hello:a/b",
	} {
		_, err := ParseFunctionRef(in)
		if !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("ParseFunctionRef(%q) error = %v, want InvalidParameterValueException", in, err)
		}
	}
}

func TestIdentityARNs(t *testing.T) {
	id := Identity{Region: "us-east-1", Account: "000000000000"}
	if got, want := id.FunctionARN("f"), "arn:aws:lambda:us-east-1:000000000000:function:f"; got != want {
		t.Errorf("FunctionARN = %q, want %q", got, want)
	}
	if got, want := id.QualifiedARN("f", "$LATEST"), "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"; got != want {
		t.Errorf("QualifiedARN = %q, want %q", got, want)
	}
	if id.Owns(FunctionRef{Name: "f", Account: "111111111111"}) {
		t.Error("Owns accepted another account")
	}
	if !id.Owns(FunctionRef{Name: "f"}) {
		t.Error("Owns rejected a bare name")
	}
}

// FuzzParseFunctionRef checks that parsing never panics, that whatever it
// accepts has a valid name and qualifier, and that the qualified ARN built
// from an accepted reference parses back to the same name and qualifier.
func FuzzParseFunctionRef(f *testing.F) {
	for _, s := range []string{"hello", "hello:1", "123456789012:function:x:y",
		"arn:aws:lambda:us-east-1:000000000000:function:hello:$LATEST", "a::b", "arn:aws:lambda:::"} {
		f.Add(s)
	}
	id := Identity{Region: "us-east-1", Account: "000000000000"}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseFunctionRef(s)
		if err != nil {
			return
		}
		if !ValidFunctionName(ref.Name) {
			t.Fatalf("accepted invalid name %q from %q", ref.Name, s)
		}
		if ref.Qualifier != "" && !ValidQualifier(ref.Qualifier) {
			t.Fatalf("accepted invalid qualifier %q from %q", ref.Qualifier, s)
		}
		back, err := ParseFunctionRef(id.QualifiedARN(ref.Name, ref.Qualifier))
		if err != nil || back.Name != ref.Name || back.Qualifier != ref.Qualifier {
			t.Fatalf("round trip of %+v: %+v, %v", ref, back, err)
		}
	})
}
