package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gust/internal/lambda"
)

// conformanceCases is the suite every backend must pass.
var conformanceCases = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"CreateGet", testCreateGet},
	{"CreateRejects", testCreateRejects},
	{"NotFound", testNotFound},
	{"Update", testUpdate},
	{"UpdateConcurrent", testUpdateConcurrent},
	{"UpdateConflict", testUpdateConflict},
	{"List", testList},
	{"DeleteRecreate", testDeleteRecreate},
	{"Persistence", testPersistence},
	{"CodeRoundTrip", testCodeRoundTrip},
	{"CodeCollected", testCodeCollected},
	{"Watch", testWatch},
	{"WatchStops", testWatchStops},
}

func testCreateGet(t *testing.T, e *env) {
	want := newFunction("hello", "")
	mustCreate(t, e.s, want)
	got, err := e.s.GetFunction(t.Context(), "hello", lambda.LatestVersion)
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetFunction mismatch (-want +got):\n%s", diff)
	}
	// The stored copy is not the caller's.
	got.MemorySize = 999
	again, err := e.s.GetFunction(t.Context(), "hello", lambda.LatestVersion)
	if err != nil || again.MemorySize != want.MemorySize {
		t.Errorf("second GetFunction = %v, %v; want MemorySize %d", again, err, want.MemorySize)
	}
}

func testCreateRejects(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("dup", ""))
	published := newFunction("v1", "")
	published.Version = "1"
	tests := []struct {
		name      string
		fn        *lambda.Function
		wantExist bool
	}{
		{"duplicate", newFunction("dup", ""), true},
		{"version not $LATEST", published, false},
		{"invalid name", newFunction("a.b", ""), false},
		{"empty name", newFunction("", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.s.CreateFunction(t.Context(), tt.fn)
			if err == nil {
				t.Fatal("CreateFunction succeeded, want error")
			}
			if got := errors.Is(err, ErrExists); got != tt.wantExist {
				t.Errorf("errors.Is(%v, ErrExists) = %v, want %v", err, got, tt.wantExist)
			}
		})
	}
	if _, err := e.s.GetFunction(t.Context(), "v1", "1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rejected function stored anyway: %v", err)
	}
}

func testNotFound(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("exists", ""))
	ctx := t.Context()
	noop := func(*lambda.Function) error { return nil }
	tests := []struct {
		name string
		call func() error
	}{
		{"get missing", func() error { _, err := e.s.GetFunction(ctx, "missing", lambda.LatestVersion); return err }},
		{"get missing version", func() error { _, err := e.s.GetFunction(ctx, "exists", "1"); return err }},
		{"get alias-like qualifier", func() error { _, err := e.s.GetFunction(ctx, "exists", "prod"); return err }},
		{"get invalid name", func() error { _, err := e.s.GetFunction(ctx, "a.*", lambda.LatestVersion); return err }},
		{"update missing", func() error { _, err := e.s.UpdateFunction(ctx, "missing", noop); return err }},
		{"delete missing", func() error { return e.s.DeleteFunction(ctx, "missing") }},
		{"delete invalid name", func() error { return e.s.DeleteFunction(ctx, "a>") }},
		{"get code missing", func() error {
			_, sha := newCode(t, 10)
			_, err := e.s.GetCode(ctx, sha)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
	}
}

func testUpdate(t *testing.T, e *env) {
	ctx := t.Context()
	mustCreate(t, e.s, newFunction("up", ""))

	got, err := e.s.UpdateFunction(ctx, "up", func(fn *lambda.Function) error {
		fn.Timeout = 42
		fn.Environment["B"] = "2"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateFunction: %v", err)
	}
	stored, err := e.s.GetFunction(ctx, "up", lambda.LatestVersion)
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	if diff := cmp.Diff(got, stored); diff != "" {
		t.Errorf("returned vs stored (-returned +stored):\n%s", diff)
	}
	if stored.Timeout != 42 || stored.Environment["B"] != "2" || stored.Environment["A"] != "1" {
		t.Errorf("stored after update = timeout %d env %v", stored.Timeout, stored.Environment)
	}

	// A failing mutate writes nothing and its error comes back as is.
	errBoom := errors.New("boom")
	_, err = e.s.UpdateFunction(ctx, "up", func(fn *lambda.Function) error {
		fn.Timeout = 1
		return errBoom
	})
	if err != errBoom {
		t.Errorf("UpdateFunction with failing mutate = %v, want %v", err, errBoom)
	}
	// Changing identity is refused.
	_, err = e.s.UpdateFunction(ctx, "up", func(fn *lambda.Function) error {
		fn.Timeout = 2
		fn.Name = "other"
		return nil
	})
	if err == nil {
		t.Error("UpdateFunction renaming the function succeeded, want error")
	}
	after, err := e.s.GetFunction(ctx, "up", lambda.LatestVersion)
	if err != nil || after.Timeout != 42 {
		t.Errorf("after refused updates: %v, %v; want Timeout 42", after, err)
	}
}

func testUpdateConcurrent(t *testing.T, e *env) {
	ctx := t.Context()
	fn := newFunction("counter", "")
	mustCreate(t, e.s, fn)
	const updaters = 10
	var wg sync.WaitGroup
	errs := make(chan error, updaters)
	for range updaters {
		wg.Go(func() {
			_, err := e.s.UpdateFunction(ctx, "counter", func(fn *lambda.Function) error {
				fn.MemorySize++
				return nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("UpdateFunction: %v", err)
		}
	}
	got, err := e.s.GetFunction(ctx, "counter", lambda.LatestVersion)
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	if want := fn.MemorySize + updaters; got.MemorySize != want {
		t.Errorf("MemorySize = %d, want %d", got.MemorySize, want)
	}
}

// testUpdateConflict makes every attempt lose by writing $LATEST behind the
// updater's back from inside mutate.
func testUpdateConflict(t *testing.T, e *env) {
	ctx := t.Context()
	fn := newFunction("busy", "")
	mustCreate(t, e.s, fn)
	data, err := json.Marshal(fn)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	_, err = e.s.UpdateFunction(ctx, "busy", func(got *lambda.Function) error {
		calls++
		got.Timeout = 99
		_, err := e.s.kv.Put(ctx, latestKey("busy"), data)
		return err
	})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("UpdateFunction = %v, want ErrConflict", err)
	}
	if calls != updateAttempts {
		t.Errorf("mutate ran %d times, want %d", calls, updateAttempts)
	}
	got, err := e.s.GetFunction(ctx, "busy", lambda.LatestVersion)
	if err != nil || got.Timeout != fn.Timeout {
		t.Errorf("after conflict: %v, %v; want Timeout %d", got, err, fn.Timeout)
	}
}

func testList(t *testing.T, e *env) {
	ctx := t.Context()
	empty, err := e.s.ListFunctions(ctx)
	if err != nil || len(empty) != 0 {
		t.Fatalf("ListFunctions on empty store = %v, %v; want none", empty, err)
	}
	for _, name := range []string{"charlie", "alpha", "bravo", "delta"} {
		mustCreate(t, e.s, newFunction(name, ""))
	}
	if _, err := e.s.UpdateFunction(ctx, "bravo", func(fn *lambda.Function) error {
		fn.Description = "updated"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteFunction(ctx, "delta"); err != nil {
		t.Fatal(err)
	}
	fns, err := e.s.ListFunctions(ctx)
	if err != nil {
		t.Fatalf("ListFunctions: %v", err)
	}
	var names []string
	for _, fn := range fns {
		names = append(names, fn.Name)
		if fn.Version != lambda.LatestVersion {
			t.Errorf("%s: Version = %q, want $LATEST", fn.Name, fn.Version)
		}
	}
	if diff := cmp.Diff([]string{"alpha", "bravo", "charlie"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if len(fns) == 3 && fns[1].Description != "updated" {
		t.Errorf("bravo Description = %q, want the updated value", fns[1].Description)
	}
}

func testDeleteRecreate(t *testing.T, e *env) {
	ctx := t.Context()
	mustCreate(t, e.s, newFunction("gone", ""))
	if err := e.s.DeleteFunction(ctx, "gone"); err != nil {
		t.Fatalf("DeleteFunction: %v", err)
	}
	if _, err := e.s.GetFunction(ctx, "gone", lambda.LatestVersion); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetFunction after delete = %v, want ErrNotFound", err)
	}
	if err := e.s.DeleteFunction(ctx, "gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteFunction = %v, want ErrNotFound", err)
	}
	again := newFunction("gone", "")
	again.Handler = "new.handler"
	mustCreate(t, e.s, again)
	got, err := e.s.GetFunction(ctx, "gone", lambda.LatestVersion)
	if err != nil || got.Handler != "new.handler" {
		t.Errorf("GetFunction after re-create = %v, %v; want Handler new.handler", got, err)
	}
}

func testPersistence(t *testing.T, e *env) {
	zip, sha := mustPutCode(t, e.s, 1000)
	want := newFunction("durable", sha)
	mustCreate(t, e.s, want)

	s := e.reopen()
	got, err := s.GetFunction(t.Context(), "durable", lambda.LatestVersion)
	if err != nil {
		t.Fatalf("GetFunction after reopen: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
	code, err := s.GetCode(t.Context(), sha)
	if err != nil || !bytes.Equal(code, zip) {
		t.Errorf("GetCode after reopen: %d bytes, %v; want the %d stored bytes", len(code), err, len(zip))
	}
}

func testCodeRoundTrip(t *testing.T, e *env) {
	ctx := t.Context()
	zip, sha := mustPutCode(t, e.s, 5<<20)
	got, err := e.s.GetCode(ctx, sha)
	if err != nil {
		t.Fatalf("GetCode: %v", err)
	}
	if !bytes.Equal(got, zip) {
		t.Fatalf("GetCode returned %d bytes that differ from the %d stored", len(got), len(zip))
	}
	if err := e.s.PutCode(ctx, sha, zip); err != nil {
		t.Errorf("second PutCode: %v", err)
	}
	other, _ := newCode(t, 10)
	if err := e.s.PutCode(ctx, sha, other); err == nil {
		t.Error("PutCode with a sha that is not the zip's succeeded, want error")
	}
	if err := e.s.PutCode(ctx, "not base64!", other); err == nil {
		t.Error("PutCode with an invalid sha succeeded, want error")
	}
}

// testCodeCollected checks that code objects go once no function version
// refers to them, and stay while one does.
func testCodeCollected(t *testing.T, e *env) {
	ctx := t.Context()
	_, shared := mustPutCode(t, e.s, 100)
	_, alone := mustPutCode(t, e.s, 100)
	_, old := mustPutCode(t, e.s, 100)
	_, replacement := mustPutCode(t, e.s, 100)
	_, pinned := mustPutCode(t, e.s, 100)
	mustCreate(t, e.s, newFunction("a", shared))
	mustCreate(t, e.s, newFunction("b", shared))
	mustCreate(t, e.s, newFunction("c", alone))
	mustCreate(t, e.s, newFunction("d", old))
	mustCreate(t, e.s, newFunction("p", pinned))
	// A published version of p keeps pinned alive after $LATEST moves on.
	v1 := newFunction("p", pinned)
	v1.Version = "1"
	data, err := json.Marshal(v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.kv.Create(ctx, versionKey("p", "1"), data); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name    string
		do      func() error
		present []string
		absent  []string
	}{
		{"delete c", func() error { return e.s.DeleteFunction(ctx, "c") },
			[]string{shared, old, pinned}, []string{alone}},
		{"delete a", func() error { return e.s.DeleteFunction(ctx, "a") },
			[]string{shared}, nil},
		{"update d's code", func() error {
			_, err := e.s.UpdateFunction(ctx, "d", func(fn *lambda.Function) error { fn.CodeSha256 = replacement; return nil })
			return err
		}, []string{replacement}, []string{old}},
		{"update p's code", func() error {
			_, err := e.s.UpdateFunction(ctx, "p", func(fn *lambda.Function) error { fn.CodeSha256 = replacement; return nil })
			return err
		}, []string{pinned, replacement}, nil},
		{"delete b", func() error { return e.s.DeleteFunction(ctx, "b") },
			[]string{replacement, pinned}, []string{shared}},
		{"delete p", func() error { return e.s.DeleteFunction(ctx, "p") },
			[]string{replacement}, []string{pinned}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for _, sha := range st.present {
			if _, err := e.s.GetCode(ctx, sha); err != nil {
				t.Errorf("after %s: GetCode(%s) = %v, want present", st.name, sha, err)
			}
		}
		for _, sha := range st.absent {
			if _, err := e.s.GetCode(ctx, sha); !errors.Is(err, ErrNotFound) {
				t.Errorf("after %s: GetCode(%s) = %v, want ErrNotFound", st.name, sha, err)
			}
		}
	}
	if _, err := e.s.GetFunction(ctx, "p", "1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("version 1 after DeleteFunction = %v, want ErrNotFound", err)
	}
}

func testWatch(t *testing.T, e *env) {
	ctx := t.Context()
	mustCreate(t, e.s, newFunction("before", ""))
	names := make(chan string, 16)
	if err := e.s.Watch(ctx, func(name string) { names <- name }); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	mustCreate(t, e.s, newFunction("watched", ""))
	if _, err := e.s.UpdateFunction(ctx, "watched", func(fn *lambda.Function) error { fn.Timeout = 9; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteFunction(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	// Create, update, delete: in commit order, and nothing from before
	// Watch. The bucket keeps one value per key, so a create and an update
	// the watcher has not read yet may arrive as one call.
	var got []string
	for len(got) == 0 || got[len(got)-1] != "before" {
		select {
		case name := <-names:
			got = append(got, name)
		case <-time.After(10 * time.Second):
			t.Fatalf("Watch reported %q, then nothing for 10s; want watched (once or twice), then before", got)
		}
	}
	if n := len(got); n < 2 || n > 3 || slices.ContainsFunc(got[:n-1], func(s string) bool { return s != "watched" }) {
		t.Errorf("Watch reported %q, want watched (once or twice), then before", got)
	}
}

func testWatchStops(t *testing.T, e *env) {
	ctx, cancel := context.WithCancel(t.Context())
	if err := e.s.Watch(ctx, func(string) {}); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	cancel()
	// Close waits for every Watch goroutine; a leaked one would hang here.
	done := make(chan error, 1)
	go func() { done <- e.s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return: Watch goroutine still running")
	}
	if err := e.s.Watch(t.Context(), func(string) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch after Close = %v, want ErrClosed", err)
	}
}
