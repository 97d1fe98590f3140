package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gust/internal/lambda"
)

// tagCases is the tagging part of the conformance suite; it runs against
// every backend like conformanceCases.
var tagCases = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"RoundTrip", testTagsRoundTrip},
	{"RemoveAll", testTagsRemoveAll},
	{"MutateError", testTagsMutateError},
	{"Unchanged", testTagsUnchanged},
	{"NotFound", testTagsNotFound},
	{"Concurrent", testTagsConcurrent},
	{"VersionsUntouched", testTagsVersionsUntouched},
	{"Persistence", testTagsPersistence},
}

func TestTagsConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range tagCases {
				t.Run(c.name, func(t *testing.T) {
					c.run(t, b.newEnv(t))
				})
			}
		})
	}
}

// wantTags fails unless GetTags(name) is want.
func wantTags(t *testing.T, s *Store, name string, want map[string]string) {
	t.Helper()
	got, err := s.GetTags(t.Context(), name)
	if err != nil {
		t.Fatalf("GetTags(%s): %v", name, err)
	}
	if got == nil {
		t.Errorf("GetTags(%s) = nil, want a non-nil map", name)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetTags(%s) (-want +got):\n%s", name, diff)
	}
}

// latestRevision is the KV revision of a function's $LATEST record.
func latestRevision(t *testing.T, e *env, name string) uint64 {
	t.Helper()
	entry, err := e.s.kv.Get(t.Context(), latestKey(name))
	if err != nil {
		t.Fatalf("get %s: %v", latestKey(name), err)
	}
	return entry.Revision()
}

func setTags(add map[string]string) func(map[string]string) error {
	return func(tags map[string]string) error {
		for k, v := range add {
			tags[k] = v
		}
		return nil
	}
}

func testTagsRoundTrip(t *testing.T, e *env) {
	ctx := t.Context()
	fn := newFunction("tagged", "")
	fn.Tags = map[string]string{"team": "a", "env": "dev"}
	mustCreate(t, e.s, fn)
	wantTags(t, e.s, "tagged", map[string]string{"team": "a", "env": "dev"})

	got, err := e.s.UpdateTags(ctx, "tagged", setTags(map[string]string{"team": "b", "cost": "42"}))
	if err != nil {
		t.Fatalf("UpdateTags: %v", err)
	}
	want := map[string]string{"team": "b", "env": "dev", "cost": "42"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UpdateTags result (-want +got):\n%s", diff)
	}
	got["team"] = "changed by the caller" // the result is the caller's copy
	wantTags(t, e.s, "tagged", want)

	// Tagging is neither a code nor a configuration change.
	after, err := e.s.GetFunction(ctx, "tagged", lambda.LatestVersion)
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	if after.RevisionID != fn.RevisionID || !after.LastModified.Equal(fn.LastModified) {
		t.Errorf("after UpdateTags: RevisionID %q, LastModified %v; want %q, %v unchanged",
			after.RevisionID, after.LastModified, fn.RevisionID, fn.LastModified)
	}
	if diff := cmp.Diff(want, after.Tags); diff != "" {
		t.Errorf("GetFunction Tags (-want +got):\n%s", diff)
	}
}

func testTagsRemoveAll(t *testing.T, e *env) {
	fn := newFunction("untag", "")
	fn.Tags = map[string]string{"a": "1", "b": "2", "c": "3"}
	mustCreate(t, e.s, fn)
	got, err := e.s.UpdateTags(t.Context(), "untag", func(tags map[string]string) error {
		delete(tags, "a")
		delete(tags, "c")
		return nil
	})
	if err != nil || !cmp.Equal(got, map[string]string{"b": "2"}) {
		t.Fatalf("UpdateTags remove a, c = %v, %v; want map[b:2]", got, err)
	}
	got, err = e.s.UpdateTags(t.Context(), "untag", func(tags map[string]string) error {
		delete(tags, "b")
		return nil
	})
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("UpdateTags remove b = %#v, %v; want an empty map", got, err)
	}
	wantTags(t, e.s, "untag", map[string]string{})
	stored, err := e.s.GetFunction(t.Context(), "untag", lambda.LatestVersion)
	if err != nil || stored.Tags != nil {
		t.Errorf("GetFunction after removing every tag: Tags %#v, err %v; want nil", stored.Tags, err)
	}
}

func testTagsMutateError(t *testing.T, e *env) {
	fn := newFunction("refuse", "")
	fn.Tags = map[string]string{"keep": "me"}
	mustCreate(t, e.s, fn)
	before := latestRevision(t, e, "refuse")
	refused := lambda.KindInvalidParameterValue.Errorf("Number of tags exceeds resource tag limit.")
	got, err := e.s.UpdateTags(t.Context(), "refuse", func(tags map[string]string) error {
		tags["half"] = "done"
		delete(tags, "keep")
		return refused
	})
	if err != refused || got != nil { // the very error, not a wrapped one
		t.Fatalf("UpdateTags = %v, %v; want nil, the mutate error as is", got, err)
	}
	wantTags(t, e.s, "refuse", map[string]string{"keep": "me"})
	if after := latestRevision(t, e, "refuse"); after != before {
		t.Errorf("$LATEST revision %d -> %d: a refused change was written", before, after)
	}
}

func testTagsUnchanged(t *testing.T, e *env) {
	fn := newFunction("same", "")
	fn.Tags = map[string]string{"a": "1"}
	mustCreate(t, e.s, fn)
	mustCreate(t, e.s, newFunction("bare", ""))
	for _, c := range []struct {
		name   string
		mutate func(map[string]string) error
		want   map[string]string
	}{
		{"same", setTags(map[string]string{"a": "1"}), map[string]string{"a": "1"}},
		{"same", func(tags map[string]string) error { delete(tags, "absent"); return nil }, map[string]string{"a": "1"}},
		{"bare", func(tags map[string]string) error { delete(tags, "absent"); return nil }, map[string]string{}},
	} {
		before := latestRevision(t, e, c.name)
		got, err := e.s.UpdateTags(t.Context(), c.name, c.mutate)
		if err != nil || got == nil || !cmp.Equal(got, c.want) {
			t.Errorf("UpdateTags(%s) = %#v, %v; want %v", c.name, got, err, c.want)
		}
		if after := latestRevision(t, e, c.name); after != before {
			t.Errorf("UpdateTags(%s) changed nothing but wrote $LATEST (revision %d -> %d)", c.name, before, after)
		}
	}
}

func testTagsNotFound(t *testing.T, e *env) {
	ctx := t.Context()
	for _, name := range []string{"ghost", "not a valid name", ""} {
		called := false
		if _, err := e.s.UpdateTags(ctx, name, func(map[string]string) error { called = true; return nil }); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateTags(%q) error = %v, want ErrNotFound", name, err)
		}
		if called {
			t.Errorf("UpdateTags(%q) ran mutate for a function that does not exist", name)
		}
		if _, err := e.s.GetTags(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetTags(%q) error = %v, want ErrNotFound", name, err)
		}
	}
	// A deleted function's tags go with it.
	fn := newFunction("gone", "")
	fn.Tags = map[string]string{"a": "1"}
	mustCreate(t, e.s, fn)
	if err := e.s.DeleteFunction(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.GetTags(ctx, "gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetTags after DeleteFunction error = %v, want ErrNotFound", err)
	}
}

func testTagsConcurrent(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("race", ""))
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("k%d", i)
			_, err := e.s.UpdateTags(t.Context(), "race", setTags(map[string]string{key: "v"}))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent UpdateTags: %v", err)
		}
	}
	want := map[string]string{}
	for i := range writers {
		want[fmt.Sprintf("k%d", i)] = "v"
	}
	wantTags(t, e.s, "race", want)
}

func testTagsVersionsUntouched(t *testing.T, e *env) {
	ctx := t.Context()
	fn := newFunction("pub", "")
	fn.Tags = map[string]string{"a": "1"}
	mustCreate(t, e.s, fn)
	// A published version record, as a version published later holds it.
	v1 := newFunction("pub", "")
	v1.Version = "1"
	data, err := json.Marshal(v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.kv.Create(ctx, versionKey("pub", "1"), data); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.UpdateTags(ctx, "pub", setTags(map[string]string{"b": "2"})); err != nil {
		t.Fatalf("UpdateTags: %v", err)
	}
	wantTags(t, e.s, "pub", map[string]string{"a": "1", "b": "2"})
	got, err := e.s.GetFunction(ctx, "pub", "1")
	if err != nil {
		t.Fatalf("GetFunction pub:1: %v", err)
	}
	if diff := cmp.Diff(v1, got); diff != "" {
		t.Errorf("version 1 changed by UpdateTags (-want +got):\n%s", diff)
	}
}

func testTagsPersistence(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("durable", ""))
	if _, err := e.s.UpdateTags(t.Context(), "durable", setTags(map[string]string{"a": "1"})); err != nil {
		t.Fatalf("UpdateTags: %v", err)
	}
	s := e.reopen()
	wantTags(t, s, "durable", map[string]string{"a": "1"})
}
