package store

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gust/internal/iam/policy"
	"gust/internal/lambda"
)

// policyCases run against every backend, like the conformance suite.
var policyCases = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"AddGet", testPolicyAddGet},
	{"NotFound", testPolicyNotFound},
	{"Revisions", testPolicyRevisions},
	{"PerQualifier", testPolicyPerQualifier},
	{"LastStatementDeletes", testPolicyLastStatementDeletes},
	{"UpdateConcurrent", testPolicyUpdateConcurrent},
	{"DeleteFunction", testPolicyDeleteFunction},
	{"Keys", testPolicyKeys},
	{"Persistence", testPolicyPersistence},
	{"Watch", testPolicyWatch},
}

func TestPolicy(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range policyCases {
				t.Run(c.name, func(t *testing.T) {
					c.run(t, b.newEnv(t))
				})
			}
		})
	}
}

// testStatement is an AddPermission-style statement with a condition.
func testStatement(sid string) policy.Statement {
	return policy.Statement{
		Sid:       sid,
		Effect:    "Allow",
		Principal: &policy.Principal{Service: policy.StringList{"s3.amazonaws.com"}},
		Action:    policy.StringList{"lambda:InvokeFunction"},
		Resource:  policy.StringList{"arn:aws:lambda:us-east-1:123456789012:function:f"},
		Condition: map[string]map[string]policy.StringList{"ArnLike": {"AWS:SourceArn": {"arn:aws:s3:::b"}}},
	}
}

// addStatements appends statements to the policy of name:qualifier.
func addStatements(t *testing.T, s *Store, name, qualifier string, sts ...policy.Statement) string {
	t.Helper()
	_, rev, err := s.UpdatePolicy(t.Context(), name, qualifier, func(doc *policy.Document, _ string) error {
		doc.Statement = append(doc.Statement, sts...)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdatePolicy(%s, %q): %v", name, qualifier, err)
	}
	return rev
}

// removeStatement drops the statement sid from the policy of name:qualifier.
func removeStatement(t *testing.T, s *Store, name, qualifier, sid string) string {
	t.Helper()
	_, rev, err := s.UpdatePolicy(t.Context(), name, qualifier, func(doc *policy.Document, _ string) error {
		for i, st := range doc.Statement {
			if st.Sid == sid {
				doc.Statement = append(doc.Statement[:i], doc.Statement[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("no statement %s", sid)
	})
	if err != nil {
		t.Fatalf("remove %s from %s:%q: %v", sid, name, qualifier, err)
	}
	return rev
}

func testPolicyAddGet(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	var seen string
	doc, rev, err := e.s.UpdatePolicy(t.Context(), "f", "", func(doc *policy.Document, revisionID string) error {
		seen = revisionID
		if doc.Version != "2012-10-17" || doc.ID != "default" || len(doc.Statement) != 0 {
			t.Errorf("a new policy starts as %+v, want an empty 2012-10-17 document with Id default", doc)
		}
		doc.Statement = append(doc.Statement, testStatement("s3"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != "" || rev == "" {
		t.Errorf("revision before = %q, after = %q; want none, then one", seen, rev)
	}
	want := &policy.Document{Version: "2012-10-17", ID: "default", Statement: []policy.Statement{testStatement("s3")}}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("UpdatePolicy result (-want +got):\n%s", diff)
	}
	got, gotRev, err := e.s.GetPolicy(t.Context(), "f", lambda.LatestVersion)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetPolicy (-want +got):\n%s", diff)
	}
	if gotRev != rev {
		t.Errorf("GetPolicy revision = %q, want %q", gotRev, rev)
	}
}

func testPolicyNotFound(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	ctx := t.Context()
	for _, c := range []struct{ name, q string }{
		{"f", ""}, {"f", lambda.LatestVersion}, {"f", "1"}, {"nope", ""}, {"a.b", ""}, {"f", "a.b"},
	} {
		if doc, rev, err := e.s.GetPolicy(ctx, c.name, c.q); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetPolicy(%q, %q) = %v, %q, %v; want ErrNotFound", c.name, c.q, doc, rev, err)
		}
	}
	// No policy for a function that does not exist.
	_, _, err := e.s.UpdatePolicy(ctx, "nope", "", func(doc *policy.Document, _ string) error {
		doc.Statement = append(doc.Statement, testStatement("s"))
		return nil
	})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdatePolicy of a missing function = %v, want ErrNotFound", err)
	}
	// An error from mutate writes nothing and comes back as is.
	boom := errors.New("boom")
	_, _, err = e.s.UpdatePolicy(ctx, "f", "", func(doc *policy.Document, _ string) error {
		doc.Statement = append(doc.Statement, testStatement("s"))
		return boom
	})
	if err != boom {
		t.Errorf("UpdatePolicy with failing mutate = %v, want %v", err, boom)
	}
	if _, _, err := e.s.GetPolicy(ctx, "f", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("a failed mutate stored a policy: %v", err)
	}
	// Leaving an absent policy empty stores nothing.
	doc, rev, err := e.s.UpdatePolicy(ctx, "f", "", func(*policy.Document, string) error { return nil })
	if err != nil || rev != "" || len(doc.Statement) != 0 {
		t.Errorf("empty update = %+v, %q, %v; want an empty document and no revision", doc, rev, err)
	}
	if ps, err := e.s.ListPolicies(ctx, "nope"); err != nil || ps == nil || len(ps) != 0 {
		t.Errorf("ListPolicies(nope) = %v, %v; want an empty map", ps, err)
	}
}

func testPolicyRevisions(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	rev1 := addStatements(t, e.s, "f", "", testStatement("a"))
	var seen string
	_, rev2, err := e.s.UpdatePolicy(t.Context(), "f", "", func(doc *policy.Document, revisionID string) error {
		seen = revisionID
		doc.Statement = append(doc.Statement, testStatement("b"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != rev1 {
		t.Errorf("mutate saw revision %q, want the current %q", seen, rev1)
	}
	if rev2 == "" || rev2 == rev1 {
		t.Errorf("revision after a change = %q, want a new one (was %q)", rev2, rev1)
	}
	rev3 := removeStatement(t, e.s, "f", "", "a")
	if rev3 == "" || rev3 == rev2 || rev3 == rev1 {
		t.Errorf("revision after a removal = %q, want a new one (had %q, %q)", rev3, rev1, rev2)
	}
	// A precondition refused inside mutate leaves the policy alone.
	stale := errors.New("stale")
	_, _, err = e.s.UpdatePolicy(t.Context(), "f", "", func(doc *policy.Document, revisionID string) error {
		if revisionID != rev1 {
			return stale
		}
		doc.Statement = nil
		return nil
	})
	if err != stale {
		t.Errorf("update on a stale revision = %v, want %v", err, stale)
	}
	if doc, rev, err := e.s.GetPolicy(t.Context(), "f", ""); err != nil || rev != rev3 || len(doc.Statement) != 1 || doc.Statement[0].Sid != "b" {
		t.Errorf("after the refused update: %+v, %q, %v; want statement b at %q", doc, rev, err, rev3)
	}
}

func testPolicyPerQualifier(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	addStatements(t, e.s, "f", "", testStatement("fn"))
	addStatements(t, e.s, "f", "1", testStatement("v1"))
	addStatements(t, e.s, "f", "live", testStatement("alias"))
	ps, err := e.s.ListPolicies(t.Context(), "f")
	if err != nil {
		t.Fatal(err)
	}
	sids := map[string]string{}
	for q, doc := range ps {
		if len(doc.Statement) != 1 {
			t.Errorf("policy %s has %d statements, want 1", q, len(doc.Statement))
			continue
		}
		sids[q] = doc.Statement[0].Sid
	}
	if diff := cmp.Diff(map[string]string{lambda.LatestVersion: "fn", "1": "v1", "live": "alias"}, sids); diff != "" {
		t.Errorf("ListPolicies statement ids by qualifier (-want +got):\n%s", diff)
	}
	// The function's own policy is $LATEST's.
	doc, _, err := e.s.GetPolicy(t.Context(), "f", lambda.LatestVersion)
	if err != nil || doc.Statement[0].Sid != "fn" {
		t.Errorf("GetPolicy(f, $LATEST) = %+v, %v; want the unqualified policy", doc, err)
	}
}

func testPolicyLastStatementDeletes(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	addStatements(t, e.s, "f", "1", testStatement("a"), testStatement("b"))
	addStatements(t, e.s, "f", "", testStatement("keep"))
	removeStatement(t, e.s, "f", "1", "a")
	if doc, _, err := e.s.GetPolicy(t.Context(), "f", "1"); err != nil || len(doc.Statement) != 1 {
		t.Fatalf("after removing one of two: %+v, %v", doc, err)
	}
	if rev := removeStatement(t, e.s, "f", "1", "b"); rev != "" {
		t.Errorf("removing the last statement gave revision %q, want none", rev)
	}
	if _, _, err := e.s.GetPolicy(t.Context(), "f", "1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetPolicy after the last statement went = %v, want ErrNotFound", err)
	}
	ps, err := e.s.ListPolicies(t.Context(), "f")
	if err != nil || len(ps) != 1 || ps[lambda.LatestVersion] == nil {
		t.Errorf("ListPolicies = %v, %v; want only $LATEST's", ps, err)
	}
	// A policy can be created again after it was emptied.
	addStatements(t, e.s, "f", "1", testStatement("again"))
	if doc, _, err := e.s.GetPolicy(t.Context(), "f", "1"); err != nil || doc.Statement[0].Sid != "again" {
		t.Errorf("re-created policy = %+v, %v", doc, err)
	}
}

func testPolicyUpdateConcurrent(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, _, err := e.s.UpdatePolicy(t.Context(), "f", "", func(doc *policy.Document, _ string) error {
				doc.Statement = append(doc.Statement, testStatement(fmt.Sprintf("s%d", i)))
				return nil
			})
			if err != nil {
				t.Errorf("UpdatePolicy: %v", err)
			}
		})
	}
	wg.Wait()
	doc, _, err := e.s.GetPolicy(t.Context(), "f", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range doc.Statement {
		got = append(got, st.Sid)
	}
	sort.Strings(got)
	want := []string{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statements after %d concurrent adds (-want +got):\n%s", n, diff)
	}
}

func testPolicyDeleteFunction(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	mustCreate(t, e.s, newFunction("g", ""))
	addStatements(t, e.s, "f", "", testStatement("a"))
	addStatements(t, e.s, "f", "3", testStatement("b"))
	addStatements(t, e.s, "g", "", testStatement("c"))
	if err := e.s.DeleteFunction(t.Context(), "f"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e.s, newFunction("f", ""))
	for _, q := range []string{"", "3"} {
		if _, _, err := e.s.GetPolicy(t.Context(), "f", q); !errors.Is(err, ErrNotFound) {
			t.Errorf("re-created function's policy %q = %v, want ErrNotFound", q, err)
		}
	}
	if ps, err := e.s.ListPolicies(t.Context(), "f"); err != nil || len(ps) != 0 {
		t.Errorf("ListPolicies after DeleteFunction = %v, %v; want none", ps, err)
	}
	if _, _, err := e.s.GetPolicy(t.Context(), "g", ""); err != nil {
		t.Errorf("another function's policy went too: %v", err)
	}
}

// testPolicyKeys checks that policy keys are neither functions nor
// versions, yet belong to their function.
func testPolicyKeys(t *testing.T, e *env) {
	for _, q := range []string{"", lambda.LatestVersion, "7", "live"} {
		key := policyKey("f", q)
		if isFunctionValueKey(key) {
			t.Errorf("isFunctionValueKey(%q) = true", key)
		}
		if got := keyFunctionName(key); got != "f" {
			t.Errorf("keyFunctionName(%q) = %q, want f", key, got)
		}
	}
	mustCreate(t, e.s, newFunction("f", ""))
	addStatements(t, e.s, "f", "", testStatement("a"))
	addStatements(t, e.s, "f", "7", testStatement("b"))
	fns, err := e.s.ListFunctions(t.Context())
	if err != nil || len(fns) != 1 {
		t.Errorf("ListFunctions = %d functions, %v; want 1", len(fns), err)
	}
	if _, err := e.s.GetFunction(t.Context(), "f", "7"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a policy of qualifier 7 reads as version 7: %v", err)
	}
}

func testPolicyPersistence(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	rev := addStatements(t, e.s, "f", "", testStatement("a"))
	s := e.reopen()
	doc, gotRev, err := s.GetPolicy(t.Context(), "f", "")
	if err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	want := &policy.Document{Version: "2012-10-17", ID: "default", Statement: []policy.Statement{testStatement("a")}}
	if diff := cmp.Diff(want, doc); diff != "" || gotRev != rev {
		t.Errorf("after reopen: revision %q (want %q), document (-want +got):\n%s", gotRev, rev, diff)
	}
}

func testPolicyWatch(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	names := make(chan string, 16)
	if err := e.s.Watch(t.Context(), func(name string) { names <- name }); err != nil {
		t.Fatal(err)
	}
	addStatements(t, e.s, "f", "", testStatement("a"))
	select {
	case name := <-names:
		if name != "f" {
			t.Errorf("Watch reported %q, want f", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not report a policy change")
	}
}
