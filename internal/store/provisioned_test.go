package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gust/internal/lambda"
)

// provisionedCases run against every backend, like the conformance suite.
var provisionedCases = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"PutGetReplace", testPCPutGetReplace},
	{"Refused", testPCRefused},
	{"Delete", testPCDelete},
	{"List", testPCList},
	{"QualifierDeleted", testPCQualifierDeleted},
	{"DeleteFunction", testPCDeleteFunction},
	{"PersistenceAndWatch", testPCPersistenceAndWatch},
}

func TestProvisionedConcurrency(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range provisionedCases {
				t.Run(c.name, func(t *testing.T) {
					c.run(t, b.newEnv(t))
				})
			}
		})
	}
}

// withVersionAndAlias creates function name with published version 1 and
// alias "live" pointing to it.
func withVersionAndAlias(t *testing.T, s *Store, name string) {
	t.Helper()
	mustCreate(t, s, newFunction(name, ""))
	if _, _, err := s.PublishVersion(t.Context(), name, "", noCheck); err != nil {
		t.Fatalf("PublishVersion(%s): %v", name, err)
	}
	if err := s.CreateAlias(t.Context(), &lambda.Alias{Function: name, Name: "live", FunctionVersion: "1", RevisionID: "r"}); err != nil {
		t.Fatalf("CreateAlias(%s:live): %v", name, err)
	}
}

func newPC(name, qualifier string, n int) ProvisionedConcurrency {
	return ProvisionedConcurrency{Function: name, Qualifier: qualifier, Requested: n,
		LastModified: time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)}
}

func mustPutPC(t *testing.T, s *Store, cfg ProvisionedConcurrency) {
	t.Helper()
	if err := s.PutProvisionedConcurrency(t.Context(), cfg); err != nil {
		t.Fatalf("PutProvisionedConcurrency(%s:%s): %v", cfg.Function, cfg.Qualifier, err)
	}
}

func testPCPutGetReplace(t *testing.T, e *env) {
	withVersionAndAlias(t, e.s, "f")
	for _, q := range []string{"1", "live"} {
		want := newPC("f", q, 2)
		mustPutPC(t, e.s, want)
		got, err := e.s.GetProvisionedConcurrency(t.Context(), "f", q)
		if err != nil {
			t.Fatalf("Get(f, %s): %v", q, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Get(f, %s) mismatch (-want +got):\n%s", q, diff)
		}
	}
	// A second put replaces the first.
	want := newPC("f", "live", 5)
	want.LastModified = want.LastModified.Add(time.Hour)
	mustPutPC(t, e.s, want)
	if got, err := e.s.GetProvisionedConcurrency(t.Context(), "f", "live"); err != nil || !cmp.Equal(want, got) {
		t.Errorf("after replacing: %+v, %v; want %+v", got, err, want)
	}
}

func testPCRefused(t *testing.T, e *env) {
	withVersionAndAlias(t, e.s, "f")
	ctx := t.Context()
	for _, c := range []struct {
		cfg      ProvisionedConcurrency
		notFound bool // else any error
	}{
		{newPC("nope", "1", 1), true},
		{newPC("f", "2", 1), true},    // no such version
		{newPC("f", "gone", 1), true}, // no such alias
		{newPC("f", lambda.LatestVersion, 1), false},
		{newPC("f", "1", 0), false},
		{newPC("a.b", "1", 1), false},
		{newPC("f", "a.b", 1), false},
	} {
		err := e.s.PutProvisionedConcurrency(ctx, c.cfg)
		if err == nil || (c.notFound && !errors.Is(err, ErrNotFound)) {
			t.Errorf("Put(%s:%s, %d) = %v, want refused (not found: %v)", c.cfg.Function, c.cfg.Qualifier, c.cfg.Requested, err, c.notFound)
		}
	}
	for _, c := range []struct{ name, q string }{{"f", "1"}, {"f", lambda.LatestVersion}, {"nope", "1"}, {"f", ""}, {"a.b", "1"}} {
		if _, err := e.s.GetProvisionedConcurrency(ctx, c.name, c.q); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q, %q) = %v, want ErrNotFound", c.name, c.q, err)
		}
	}
	if cfgs, err := e.s.ListProvisionedConcurrency(ctx, "f"); err != nil || len(cfgs) != 0 {
		t.Errorf("List after refused puts = %+v, %v; want none", cfgs, err)
	}
}

func testPCDelete(t *testing.T, e *env) {
	withVersionAndAlias(t, e.s, "f")
	ctx := t.Context()
	mustPutPC(t, e.s, newPC("f", "1", 1))
	mustPutPC(t, e.s, newPC("f", "live", 1))
	if err := e.s.DeleteProvisionedConcurrency(ctx, "f", "1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := e.s.GetProvisionedConcurrency(ctx, "f", "1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := e.s.DeleteProvisionedConcurrency(ctx, "f", "1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	if _, err := e.s.GetProvisionedConcurrency(ctx, "f", "live"); err != nil {
		t.Errorf("the alias's config went too: %v", err)
	}
}

func testPCList(t *testing.T, e *env) {
	s := e.s
	ctx := t.Context()
	withVersionAndAlias(t, s, "g")
	withVersionAndAlias(t, s, "f")
	for i := range 9 { // versions 2…10 of f
		bumpLatest(t, s, "f", fmt.Sprint("rev", i))
		if _, _, err := s.PublishVersion(ctx, "f", "", noCheck); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateAlias(ctx, &lambda.Alias{Function: "f", Name: "beta", FunctionVersion: "2", RevisionID: "r"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"live", "10", "beta", "2"} {
		mustPutPC(t, s, newPC("f", q, 1))
	}
	mustPutPC(t, s, newPC("g", "1", 3))

	qualifiers := func(cfgs []ProvisionedConcurrency) []string {
		var out []string
		for _, c := range cfgs {
			out = append(out, c.Function+":"+c.Qualifier)
		}
		return out
	}
	cfgs, err := s.ListProvisionedConcurrency(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"f:2", "f:10", "f:beta", "f:live"}, qualifiers(cfgs)); diff != "" {
		t.Errorf("List(f) order (-want +got):\n%s", diff)
	}
	all, err := s.ListAllProvisionedConcurrency(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"f:2", "f:10", "f:beta", "f:live", "g:1"}, qualifiers(all)); diff != "" {
		t.Errorf("ListAll order (-want +got):\n%s", diff)
	}
	if all[4].Requested != 3 {
		t.Errorf("g:1 requested = %d, want 3", all[4].Requested)
	}
	if none, err := s.ListProvisionedConcurrency(ctx, "nope"); err != nil || len(none) != 0 {
		t.Errorf("List(nope) = %+v, %v; want empty", none, err)
	}
}

// Deleting a version or an alias removes its config (and only its).
func testPCQualifierDeleted(t *testing.T, e *env) {
	s := e.s
	ctx := t.Context()
	withVersionAndAlias(t, s, "f")
	bumpLatest(t, s, "f", "rev2")
	if _, _, err := s.PublishVersion(ctx, "f", "", noCheck); err != nil { // version 2
		t.Fatal(err)
	}
	mustPutPC(t, s, newPC("f", "live", 1))
	mustPutPC(t, s, newPC("f", "2", 1))
	if err := s.DeleteAlias(ctx, "f", "live"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetProvisionedConcurrency(ctx, "f", "live"); !errors.Is(err, ErrNotFound) {
		t.Errorf("alias config after DeleteAlias = %v, want ErrNotFound", err)
	}
	if _, err := s.GetProvisionedConcurrency(ctx, "f", "2"); err != nil {
		t.Errorf("version 2's config went with the alias: %v", err)
	}
	if err := s.DeleteVersion(ctx, "f", "2"); err != nil {
		t.Fatal(err)
	}
	if cfgs, err := s.ListProvisionedConcurrency(ctx, "f"); err != nil || len(cfgs) != 0 {
		t.Errorf("List after DeleteVersion = %+v, %v; want none", cfgs, err)
	}
	// A re-created alias of the same name starts without one.
	if err := s.CreateAlias(ctx, &lambda.Alias{Function: "f", Name: "live", FunctionVersion: "1", RevisionID: "r2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetProvisionedConcurrency(ctx, "f", "live"); !errors.Is(err, ErrNotFound) {
		t.Errorf("re-created alias has a config: %v", err)
	}
}

func testPCDeleteFunction(t *testing.T, e *env) {
	withVersionAndAlias(t, e.s, "f")
	withVersionAndAlias(t, e.s, "g")
	mustPutPC(t, e.s, newPC("f", "1", 1))
	mustPutPC(t, e.s, newPC("g", "live", 1))
	if err := e.s.DeleteFunction(t.Context(), "f"); err != nil {
		t.Fatal(err)
	}
	all, err := e.s.ListAllProvisionedConcurrency(t.Context())
	if err != nil || len(all) != 1 || all[0].Function != "g" {
		t.Errorf("ListAll after DeleteFunction(f) = %+v, %v; want g's only", all, err)
	}
}

func testPCPersistenceAndWatch(t *testing.T, e *env) {
	withVersionAndAlias(t, e.s, "f")
	want := newPC("f", "live", 2)
	mustPutPC(t, e.s, want)
	s := e.reopen()
	got, err := s.GetProvisionedConcurrency(t.Context(), "f", "live")
	if err != nil || !cmp.Equal(want, got) {
		t.Fatalf("after reopen: %+v, %v; want %+v", got, err, want)
	}
	names := make(chan string, 16)
	if err := s.Watch(t.Context(), func(name string) { names <- name }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProvisionedConcurrency(t.Context(), "f", "live"); err != nil {
		t.Fatal(err)
	}
	select {
	case name := <-names:
		if name != "f" {
			t.Errorf("Watch reported %q, want f", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not report the config's removal")
	}
}
