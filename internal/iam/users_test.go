package iam

import (
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"gust/internal/iam/policy"
)

var (
	longTermKeyID = regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)
	secretKey     = regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)
)

const readFunctionsPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:GetFunction","Resource":"*"}]}`

func TestUserLifecycle(t *testing.T) {
	s := openStore(t, startNATS(t))
	ctx := t.Context()

	u, key, err := s.CreateUser(ctx, "Alice.B+ops@example.com")
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if !longTermKeyID.MatchString(key.ID) || !secretKey.MatchString(key.Secret) {
		t.Errorf("key pair %q / %q does not look like AWS's", key.ID, key.Secret)
	}
	if want := "arn:aws:iam::123456789012:user/Alice.B+ops@example.com"; u.ARN != want {
		t.Errorf("ARN = %q, want %q", u.ARN, want)
	}
	if !slices.Equal(u.AccessKeys, []string{key.ID}) {
		t.Errorf("AccessKeys = %q, want [%q]", u.AccessKeys, key.ID)
	}

	p, secret, ok := s.Resolve(key.ID, "")
	want := Principal{Kind: PrincipalUser, Name: u.Name, ARN: u.ARN, Account: testAccount}
	if !ok || secret != key.Secret || p != want {
		t.Fatalf("Resolve(new key) = %+v, %q, %v; want %+v, the secret, true", p, secret, ok, want)
	}
	if _, _, ok := s.Resolve(key.ID, "some-token"); ok {
		t.Error("a long-term key sent with a session token resolved")
	}

	// Names are unique regardless of case, and looked up regardless of case.
	if _, _, err := s.CreateUser(ctx, "alice.b+OPS@example.com"); !errors.Is(err, ErrExists) {
		t.Errorf("CreateUser(same name, other case) = %v, want ErrExists", err)
	}
	got, err := s.GetUser(ctx, "ALICE.B+OPS@EXAMPLE.COM")
	if err != nil || got.Name != u.Name || got.ID != u.ID {
		t.Errorf("GetUser(other case) = %+v, %v; want %+v", got, err, u)
	}
	for _, bad := range []string{"", "has space", "slash/es", string(make([]byte, 65))} {
		_, _, err := s.CreateUser(ctx, bad)
		wantKind(t, err, ErrInvalid)
	}

	if _, _, err := s.CreateUser(ctx, "bob"); err != nil {
		t.Fatalf("CreateUser(bob): %v", err)
	}
	users, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	if !slices.Equal(names, []string{"Alice.B+ops@example.com", "bob"}) {
		t.Errorf("ListUsers names = %q", names)
	}

	// Rotation: the old key stops resolving at once, the new one works.
	newKey, err := s.RotateKey(ctx, u.Name)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if _, _, ok := s.Resolve(key.ID, ""); ok {
		t.Error("the rotated-out key still resolves")
	}
	if p, secret, ok := s.Resolve(newKey.ID, ""); !ok || secret != newKey.Secret || p.Name != u.Name {
		t.Errorf("Resolve(new key) = %+v, %q, %v", p, secret, ok)
	}
	if got, _ := s.GetUser(ctx, u.Name); !slices.Equal(got.AccessKeys, []string{newKey.ID}) {
		t.Errorf("AccessKeys after rotation = %q, want [%q]", got.AccessKeys, newKey.ID)
	}

	// Deletion removes the user and its keys.
	if err := s.DeleteUser(ctx, "ALICE.b+ops@example.com"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, _, ok := s.Resolve(newKey.ID, ""); ok {
		t.Error("a deleted user's key still resolves")
	}
	_, err = s.GetUser(ctx, u.Name)
	wantKind(t, err, ErrNotFound)
	wantKind(t, s.DeleteUser(ctx, u.Name), ErrNotFound)
	_, err = s.RotateKey(ctx, u.Name)
	wantKind(t, err, ErrNotFound)
	// The name is free again.
	if _, _, err := s.CreateUser(ctx, u.Name); err != nil {
		t.Errorf("CreateUser after delete: %v", err)
	}
}

func TestUserPolicy(t *testing.T) {
	s := openStore(t, startNATS(t))
	ctx := t.Context()
	_, key, err := s.CreateUser(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	p, _, _ := s.Resolve(key.ID, "")
	if docs := s.Policies(p); docs != nil {
		t.Errorf("Policies of a new user = %v, want none", docs)
	}

	if err := s.PutUserPolicy(ctx, "carol", []byte(readFunctionsPolicy)); err != nil {
		t.Fatalf("PutUserPolicy: %v", err)
	}
	docs := s.Policies(p)
	if len(docs) != 1 {
		t.Fatalf("Policies = %v, want one document", docs)
	}
	req := policy.Request{Principal: p.ARN, Action: "lambda:GetFunction", Resource: "arn:aws:lambda:us-east-1:123456789012:function:f"}
	if d := policy.Evaluate(req, docs, nil); d != policy.Allow {
		t.Errorf("Evaluate(GetFunction) = %v, want Allow", d)
	}
	req.Action = "lambda:DeleteFunction"
	if d := policy.Evaluate(req, docs, nil); d == policy.Allow {
		t.Errorf("Evaluate(DeleteFunction) = %v, want a deny", d)
	}
	if got, _ := s.GetUser(ctx, "carol"); got.Policy != readFunctionsPolicy {
		t.Errorf("GetUser policy = %q, want the document put", got.Policy)
	}

	// A malformed document is refused and the old one stays.
	err = s.PutUserPolicy(ctx, "carol", []byte(`{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}`))
	wantKind(t, err, ErrInvalid)
	var malformed *policy.MalformedError
	if !errors.As(err, &malformed) {
		t.Errorf("error %v does not wrap a *policy.MalformedError", err)
	}
	if len(s.Policies(p)) != 1 {
		t.Error("a refused document replaced the policy")
	}

	if err := s.PutUserPolicy(ctx, "carol", nil); err != nil {
		t.Fatalf("PutUserPolicy(empty): %v", err)
	}
	if docs := s.Policies(p); docs != nil {
		t.Errorf("Policies after removal = %v, want none", docs)
	}
	wantKind(t, s.PutUserPolicy(ctx, "nobody", []byte(readFunctionsPolicy)), ErrNotFound)
}

func TestRootAndUnknownKeys(t *testing.T) {
	s := openStore(t, startNATS(t))
	p, secret, ok := s.Resolve(adminID, "")
	want := Principal{Kind: PrincipalRoot, ARN: "arn:aws:iam::123456789012:root", Account: testAccount}
	if !ok || secret != adminSecret || p != want || !p.IsRoot() {
		t.Errorf("Resolve(admin) = %+v, %q, %v; want root", p, secret, ok)
	}
	if s.Policies(p) != nil {
		t.Error("root has policies; callers treat root as allowed everything")
	}
	for _, tc := range []struct{ id, token string }{
		{"AKIAUNKNOWNUNKNOWN22", ""},
		{adminID, "token"},
		{"", ""},
	} {
		if p, _, ok := s.Resolve(tc.id, tc.token); ok {
			t.Errorf("Resolve(%q, %q) = %+v, want not ok", tc.id, tc.token, p)
		}
	}
	if (Principal{}).IsRoot() {
		t.Error("the zero Principal is root")
	}
}

// TestTwoStoresShareOneBucket is two Gust nodes on one NATS: what one
// writes, the other resolves within about a second, with no restart.
func TestTwoStoresShareOneBucket(t *testing.T) {
	js := startNATS(t)
	a, b := openStore(t, js), openStore(t, js)
	ctx := t.Context()

	_, key, err := a.CreateUser(ctx, "dave")
	if err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 2*time.Second, "node b to resolve a user created on node a", func() bool {
		_, secret, ok := b.Resolve(key.ID, "")
		return ok && secret == key.Secret
	})
	t.Logf("user visible on the other node after %s", took)

	if err := a.PutUserPolicy(ctx, "dave", []byte(readFunctionsPolicy)); err != nil {
		t.Fatal(err)
	}
	p, _, _ := b.Resolve(key.ID, "")
	waitFor(t, 2*time.Second, "node b to see the policy", func() bool { return len(b.Policies(p)) == 1 })

	// Sessions issued on one node resolve on the other: one master key.
	creds, err := a.IssueSession("arn:aws:iam::123456789012:role/"+DefaultRole, "fn-env", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, secret, ok := b.Resolve(creds.AccessKeyID, creds.SessionToken); !ok || secret != creds.SecretAccessKey {
		t.Errorf("node b: Resolve(session from node a) = %q, %v", secret, ok)
	}

	if err := b.DeleteUser(ctx, "dave"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "node a to drop the deleted user's key", func() bool {
		_, _, ok := a.Resolve(key.ID, "")
		return !ok
	})
	// Creating one name on both nodes: one wins.
	_, _, errA := a.CreateUser(ctx, "erin")
	_, _, errB := b.CreateUser(ctx, "ERIN")
	if errA != nil || !errors.Is(errB, ErrExists) {
		t.Errorf("CreateUser on both nodes = %v, %v; want nil, ErrExists", errA, errB)
	}
}

// TestReopen checks that users, roles and the session key survive a
// restart of the node.
func TestReopen(t *testing.T) {
	js := startNATS(t)
	s := openStore(t, js)
	ctx := t.Context()
	_, key, err := s.CreateUser(ctx, "frank")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := s.IssueSession("arn:aws:iam::123456789012:role/"+DefaultRole, "before-restart", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.CreateRole(ctx, "after-close", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("CreateRole after Close = %v, want ErrClosed", err)
	}

	s2 := openStore(t, js)
	if _, _, ok := s2.Resolve(key.ID, ""); !ok {
		t.Error("a user's key does not resolve after reopening")
	}
	if _, _, ok := s2.Resolve(creds.AccessKeyID, creds.SessionToken); !ok {
		t.Error("a session issued before reopening does not resolve")
	}
	roles, err := s2.ListRoles(ctx)
	if err != nil || len(roles) != 1 || roles[0].Name != DefaultRole {
		t.Errorf("ListRoles after reopen = %+v, %v; want only %s", roles, err, DefaultRole)
	}
}
