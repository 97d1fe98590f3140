package iam

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"gust/internal/iam/policy"
)

var temporaryKeyID = regexp.MustCompile(`^ASIA[A-Z2-7]{16}$`)

func TestDefaultRole(t *testing.T) {
	js := startNATS(t)
	s := openStore(t, js)
	role, err := s.GetRole(t.Context(), DefaultRole)
	if err != nil {
		t.Fatalf("GetRole(%s): %v", DefaultRole, err)
	}
	if want := "arn:aws:iam::123456789012:role/lambda-role"; role.ARN != want {
		t.Errorf("ARN = %q, want %q", role.ARN, want)
	}
	creds, err := s.IssueSession(role.ARN, "env-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p, _, ok := s.Resolve(creds.AccessKeyID, creds.SessionToken)
	if !ok {
		t.Fatal("a session of the default role does not resolve")
	}
	docs := s.Policies(p)
	tests := []struct {
		action, resource string
		want             policy.Decision
	}{
		{"logs:CreateLogGroup", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn", policy.Allow},
		{"logs:CreateLogStream", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:log-stream:s", policy.Allow},
		{"logs:PutLogEvents", "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/fn:log-stream:s", policy.Allow},
		{"logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/other/fn:log-stream:s", policy.ImplicitDeny},
		{"logs:PutLogEvents", "arn:aws:logs:us-east-1:999999999999:log-group:/aws/lambda/fn:log-stream:s", policy.ImplicitDeny},
		{"logs:DeleteLogGroup", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn", policy.ImplicitDeny},
		{"lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:fn", policy.ImplicitDeny},
		{"lambda:ListFunctions", "*", policy.ImplicitDeny},
	}
	for _, tt := range tests {
		got := policy.Evaluate(policy.Request{Principal: p.ARN, Action: tt.action, Resource: tt.resource}, docs, nil)
		if got != tt.want {
			t.Errorf("%s on %s = %v, want %v", tt.action, tt.resource, got, tt.want)
		}
	}

	// Deleted, it comes back on the next Open; an existing one is kept.
	if err := s.DeleteRole(t.Context(), DefaultRole); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := openStore(t, js)
	if _, err := s2.GetRole(t.Context(), DefaultRole); err != nil {
		t.Errorf("default role after reopening: %v", err)
	}
}

func TestRoleLifecycle(t *testing.T) {
	s := openStore(t, startNATS(t))
	ctx := t.Context()
	role, err := s.CreateRole(ctx, "Worker", []byte(readFunctionsPolicy))
	if err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	if role.ARN != "arn:aws:iam::123456789012:role/Worker" || !strings.HasPrefix(role.ID, "AROA") || role.Policy != readFunctionsPolicy {
		t.Errorf("CreateRole = %+v", role)
	}
	if _, err := s.CreateRole(ctx, "worker", nil); err == nil {
		t.Error("CreateRole(same name, other case) succeeded")
	} else {
		wantKind(t, err, ErrExists)
	}
	_, err = s.CreateRole(ctx, "bad", []byte(`{"Statement":"nope"}`))
	wantKind(t, err, ErrInvalid)
	_, err = s.CreateRole(ctx, "bad name", nil)
	wantKind(t, err, ErrInvalid)

	roles, err := s.ListRoles(ctx)
	if err != nil || len(roles) != 2 || roles[0].Name != DefaultRole || roles[1].Name != "Worker" {
		t.Fatalf("ListRoles = %+v, %v", roles, err)
	}

	if err := s.PutRolePolicy(ctx, "WORKER", nil); err != nil {
		t.Fatalf("PutRolePolicy(remove): %v", err)
	}
	if got, _ := s.GetRole(ctx, "worker"); got.Policy != "" {
		t.Errorf("policy after removal = %q", got.Policy)
	}
	wantKind(t, s.PutRolePolicy(ctx, "nobody", nil), ErrNotFound)

	if err := s.DeleteRole(ctx, "Worker"); err != nil {
		t.Fatalf("DeleteRole: %v", err)
	}
	_, err = s.GetRole(ctx, "Worker")
	wantKind(t, err, ErrNotFound)
	wantKind(t, s.DeleteRole(ctx, "Worker"), ErrNotFound)
}

func TestRoleExists(t *testing.T) {
	s := openStore(t, startNATS(t))
	if _, err := s.CreateRole(t.Context(), "svc", nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arn  string
		want bool
	}{
		{"arn:aws:iam::123456789012:role/svc", true},
		{"arn:aws:iam::123456789012:role/SVC", true},
		{"arn:aws:iam::123456789012:role/service-role/team/svc", true},
		{"arn:aws:iam::123456789012:role/lambda-role", true},
		{"arn:aws:iam::123456789012:role/other", false},
		{"arn:aws:iam::999999999999:role/svc", false},
		{"arn:aws:iam::123456789012:user/svc", false},
		{"arn:aws:iam::123456789012:role/", false},
		{"arn:aws:iam::123456789012:role/svc/", false},
		{"svc", false},
		{"", false},
	}
	for _, tt := range tests {
		got, err := s.RoleExists(t.Context(), tt.arn)
		if err != nil || got != tt.want {
			t.Errorf("RoleExists(%q) = %v, %v; want %v", tt.arn, got, err, tt.want)
		}
	}
}

func TestSessions(t *testing.T) {
	s := openStore(t, startNATS(t))
	ctx := t.Context()
	role, err := s.CreateRole(ctx, "exec", []byte(readFunctionsPolicy))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	creds, err := s.IssueSession("arn:aws:iam::123456789012:role/service-role/exec", "my-fn.env@1", time.Hour)
	if err != nil {
		t.Fatalf("IssueSession: %v", err)
	}
	if !temporaryKeyID.MatchString(creds.AccessKeyID) || !secretKey.MatchString(creds.SecretAccessKey) || creds.SessionToken == "" {
		t.Errorf("credentials %+v do not look like AWS's", creds)
	}
	if exp := creds.Expiration.Sub(before); exp < 59*time.Minute || exp > 61*time.Minute {
		t.Errorf("Expiration is %s away, want about an hour", exp)
	}

	p, secret, ok := s.Resolve(creds.AccessKeyID, creds.SessionToken)
	want := Principal{Kind: PrincipalAssumedRole, Name: "exec", Session: "my-fn.env@1",
		ARN: "arn:aws:sts::123456789012:assumed-role/exec/my-fn.env@1", Account: testAccount}
	if !ok || secret != creds.SecretAccessKey || p != want {
		t.Fatalf("Resolve(session) = %+v, %q, %v; want %+v", p, secret, ok, want)
	}
	if len(s.Policies(p)) != 1 {
		t.Error("a session does not carry its role's policy")
	}
	other, err := s.IssueSession(role.ARN, "my-fn.env@1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if other.AccessKeyID == creds.AccessKeyID || other.SecretAccessKey == creds.SecretAccessKey {
		t.Error("two sessions share a key id or secret")
	}

	t.Run("tampered", func(t *testing.T) {
		payload, mac, _ := strings.Cut(creds.SessionToken, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(payload)
		forged := strings.Replace(string(raw), "exec", "admn", 1) // another role, same length
		tests := map[string]struct{ id, token string }{
			"no token":              {creds.AccessKeyID, ""},
			"other session's key":   {other.AccessKeyID, creds.SessionToken},
			"payload changed":       {creds.AccessKeyID, base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + mac},
			"mac changed":           {creds.AccessKeyID, payload + "." + flipFirst(mac)},
			"mac missing":           {creds.AccessKeyID, payload},
			"not base64":            {creds.AccessKeyID, "!!!." + mac},
			"other session's token": {creds.AccessKeyID, other.SessionToken},
			"huge":                  {creds.AccessKeyID, strings.Repeat("A", 1<<20)},
		}
		for name, tc := range tests {
			if p, _, ok := s.Resolve(tc.id, tc.token); ok {
				t.Errorf("%s: resolved to %+v", name, p)
			}
		}
	})

	t.Run("invalid requests", func(t *testing.T) {
		for _, tc := range []struct {
			arn, session string
			ttl          time.Duration
			kind         error
		}{
			{"arn:aws:iam::123456789012:role/nope", "s1", time.Hour, ErrNotFound},
			{"arn:aws:iam::999999999999:role/exec", "s1", time.Hour, ErrInvalid},
			{role.ARN, "x", time.Hour, ErrInvalid},
			{role.ARN, "has space", time.Hour, ErrInvalid},
			{role.ARN, "s1", 0, ErrInvalid},
			{role.ARN, "s1", 13 * time.Hour, ErrInvalid},
		} {
			_, err := s.IssueSession(tc.arn, tc.session, tc.ttl)
			wantKind(t, err, tc.kind)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		short, err := s.IssueSession(role.ARN, "short", 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok := s.Resolve(short.AccessKeyID, short.SessionToken); !ok {
			t.Fatal("a fresh short session does not resolve")
		}
		waitFor(t, 5*time.Second, "the short session to expire", func() bool {
			_, _, ok := s.Resolve(short.AccessKeyID, short.SessionToken)
			return !ok
		})
		if time.Now().Before(short.Expiration) {
			t.Errorf("session stopped resolving before its Expiration %s", short.Expiration)
		}
	})

	t.Run("role deleted", func(t *testing.T) {
		if err := s.DeleteRole(ctx, "exec"); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := s.Resolve(creds.AccessKeyID, creds.SessionToken); ok {
			t.Error("a deleted role's session still resolves")
		}
		if _, err := s.CreateRole(ctx, "exec", nil); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := s.Resolve(creds.AccessKeyID, creds.SessionToken); ok {
			t.Error("a session of a deleted role resolves again once a role of that name is created")
		}
	})
}

// flipFirst changes the first character of a base64url string (the last
// one may hold only padding bits, which decoding ignores).
func flipFirst(s string) string {
	repl := "A"
	if s[0] == 'A' {
		repl = "B"
	}
	return repl + s[1:]
}
