package lambda

import (
	"strings"
	"testing"
	"time"
)

func TestNewURLID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewURLID()
		if !ValidURLID(id) {
			t.Fatalf("NewURLID() = %q, not 32 lowercase letters and digits", id)
		}
		if seen[id] {
			t.Fatalf("NewURLID() repeated %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "abc", strings.Repeat("a", 33), strings.Repeat("a", 31) + "-"} {
		if ValidURLID(bad) {
			t.Errorf("ValidURLID(%q) = true, want false", bad)
		}
	}
}

func TestValidateURLQualifier(t *testing.T) {
	tests := []struct {
		q    string
		want string // "" = valid; else a substring of the message
	}{
		{"", ""},
		{"live", ""},
		{"a-b_C9", ""},
		{"$LATEST", `Value '$LATEST' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\d+$)^[0-9a-zA-Z-_]+$)`},
		{"3", `Value '3' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (^\$LATEST$)|((?!^[0-9]+$)([a-zA-Z0-9-_]+))`},
		{"a.b", `Value 'a.b' at 'qualifier'`},
		{strings.Repeat("a", 129), `at 'qualifier'`},
	}
	for _, tt := range tests {
		err := ValidateURLQualifier(tt.q)
		if tt.want == "" {
			if err != nil {
				t.Errorf("ValidateURLQualifier(%q) = %v, want nil", tt.q, err)
			}
			continue
		}
		e := AsError(err)
		if err == nil || e.Code != "ValidationException" || !strings.Contains(e.Message, tt.want) {
			t.Errorf("ValidateURLQualifier(%q) = %v, want ValidationException containing %q", tt.q, err, tt.want)
		}
	}
}

func TestValidateFunctionURLSettings(t *testing.T) {
	s := func(v string) *string { return &v }
	tests := []struct {
		name        string
		auth, mode  *string
		cors        *Cors
		requireAuth bool
		want        string // "" = valid
	}{
		{"minimal create", s("NONE"), nil, nil, true, ""},
		{"full", s("AWS_IAM"), s("RESPONSE_STREAM"), &Cors{AllowOrigins: []string{"*"}, AllowMethods: []string{"GET", "POST"}, MaxAge: 86400}, true, ""},
		{"update without auth", nil, nil, nil, false, ""},
		{"create without auth", nil, nil, nil, true, "1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null"},
		{"bad auth", s("KEY"), nil, nil, true, "Value 'KEY' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"},
		{"bad mode", s("NONE"), s("STREAM"), nil, true, "Value 'STREAM' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]"},
		{"max age", s("NONE"), nil, &Cors{MaxAge: 86401}, true, "Value '86401' at 'cors.maxAge' failed to satisfy constraint: Member must have value less than or equal to 86400"},
		{"negative max age", s("NONE"), nil, &Cors{MaxAge: -1}, true, "Member must have value greater than or equal to 0"},
		{"seven methods", s("NONE"), nil, &Cors{AllowMethods: []string{"GET", "PUT", "POST", "HEAD", "PATCH", "DELETE", "OPTIONS"}}, true,
			"Value '[GET, PUT, POST, HEAD, PATCH, DELETE, OPTIONS]' at 'cors.allowMethods' failed to satisfy constraint: Member must have length less than or equal to 6"},
		{"long method", s("NONE"), nil, &Cors{AllowMethods: []string{"CONNECT"}}, true, "at 'cors.allowMethods' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 6]"},
		{"empty origin", s("NONE"), nil, &Cors{AllowOrigins: []string{""}}, true, "at 'cors.allowOrigins' failed to satisfy constraint: Member must satisfy constraint: [Member must have length greater than or equal to 1]"},
		{"two errors", s("X"), s("Y"), nil, true, "2 validation errors detected: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateFunctionURLSettings(tt.auth, tt.mode, tt.cors, tt.requireAuth)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			e := AsError(err)
			if err == nil || e.Code != "ValidationException" || !strings.Contains(e.Message, tt.want) {
				t.Fatalf("got %v, want ValidationException containing %q", err, tt.want)
			}
		})
	}
}

func TestFunctionURLValidate(t *testing.T) {
	good := FunctionURL{Function: "f", Qualifier: "live", URLID: NewURLID(), AuthType: URLAuthNone,
		InvokeMode: InvokeModeBuffered, CreationTime: time.Now(), LastModifiedTime: time.Now()}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v", good, err)
	}
	for name, edit := range map[string]func(u *FunctionURL){
		"name":      func(u *FunctionURL) { u.Function = "a:b" },
		"qualifier": func(u *FunctionURL) { u.Qualifier = "7" },
		"id":        func(u *FunctionURL) { u.URLID = "short" },
		"auth":      func(u *FunctionURL) { u.AuthType = "" },
		"mode":      func(u *FunctionURL) { u.InvokeMode = "" },
	} {
		u := good
		edit(&u)
		if err := u.Validate(); err == nil {
			t.Errorf("%s: Validate(%+v) = nil, want an error", name, u)
		}
	}
}

func TestCorsIsZero(t *testing.T) {
	if !(*Cors)(nil).IsZero() || !(&Cors{}).IsZero() {
		t.Error("nil and empty Cors should be zero")
	}
	if (&Cors{MaxAge: 1}).IsZero() || (&Cors{AllowCredentials: true}).IsZero() || (&Cors{ExposeHeaders: []string{"x"}}).IsZero() {
		t.Error("a Cors with any setting should not be zero")
	}
}

func TestFunctionURLErrors(t *testing.T) {
	arn := "arn:aws:lambda:us-east-1:000000000000:function:f"
	e := FunctionURLConfigExists(arn)
	want := "Failed to create function url config for [functionArn = " + arn + "]. Error message:  FunctionUrlConfig exists for this Lambda function"
	if e.Code != "ResourceConflictException" || e.Status != 409 || e.Message != want {
		t.Errorf("FunctionURLConfigExists = %s %d %q, want ResourceConflictException 409 %q", e.Code, e.Status, e.Message, want)
	}
	if e := FunctionURLConfigNotFound(); e.Status != 404 || e.Message != "The resource you requested does not exist." {
		t.Errorf("FunctionURLConfigNotFound = %d %q", e.Status, e.Message)
	}
	if e := FunctionURLFunctionNotFound(); e.Status != 404 || e.Message != "Function does not exist" {
		t.Errorf("FunctionURLFunctionNotFound = %d %q", e.Status, e.Message)
	}
}
