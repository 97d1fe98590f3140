package store

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// concurrencyCases is the reserved-concurrency part of the conformance
// suite; it runs against every backend like conformanceCases.
var concurrencyCases = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"RoundTrip", testConcurrencyRoundTrip},
	{"NotFound", testConcurrencyNotFound},
	{"List", testConcurrencyList},
	{"DeletedWithFunction", testConcurrencyDeletedWithFunction},
	{"Persistence", testConcurrencyPersistence},
	{"Watch", testConcurrencyWatch},
}

func TestConcurrencyConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range concurrencyCases {
				t.Run(c.name, func(t *testing.T) {
					c.run(t, b.newEnv(t))
				})
			}
		})
	}
}

// wantConcurrency fails unless GetConcurrency(name) is (n, ok, nil).
func wantConcurrency(t *testing.T, s *Store, name string, n int, ok bool) {
	t.Helper()
	gotN, gotOK, err := s.GetConcurrency(t.Context(), name)
	if err != nil || gotN != n || gotOK != ok {
		t.Errorf("GetConcurrency(%s) = %d, %v, %v; want %d, %v, nil", name, gotN, gotOK, err, n, ok)
	}
}

func wantList(t *testing.T, s *Store, want map[string]int) {
	t.Helper()
	got, err := s.ListConcurrency(t.Context())
	if err != nil {
		t.Fatalf("ListConcurrency: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListConcurrency (-want +got):\n%s", diff)
	}
}

func testConcurrencyRoundTrip(t *testing.T, e *env) {
	ctx := t.Context()
	mustCreate(t, e.s, newFunction("rc", ""))
	wantConcurrency(t, e.s, "rc", 0, false)
	if err := e.s.PutConcurrency(ctx, "rc", 5); err != nil {
		t.Fatalf("PutConcurrency: %v", err)
	}
	wantConcurrency(t, e.s, "rc", 5, true)
	// Zero is a reservation (the function is switched off), not "none".
	if err := e.s.PutConcurrency(ctx, "rc", 0); err != nil {
		t.Fatalf("PutConcurrency 0: %v", err)
	}
	wantConcurrency(t, e.s, "rc", 0, true)
	// The function itself is untouched.
	if fn, err := e.s.GetFunction(ctx, "rc", "$LATEST"); err != nil || fn.RevisionID != "rev-1" {
		t.Errorf("GetFunction after PutConcurrency = %+v, %v", fn, err)
	}
	for i := range 2 { // idempotent
		if err := e.s.DeleteConcurrency(ctx, "rc"); err != nil {
			t.Fatalf("DeleteConcurrency #%d: %v", i+1, err)
		}
		wantConcurrency(t, e.s, "rc", 0, false)
	}
	if err := e.s.PutConcurrency(ctx, "rc", -1); err == nil {
		t.Error("PutConcurrency(-1) succeeded")
	}
	wantConcurrency(t, e.s, "rc", 0, false)
}

func testConcurrencyNotFound(t *testing.T, e *env) {
	ctx := t.Context()
	for _, name := range []string{"missing", "a.*", ""} {
		if err := e.s.PutConcurrency(ctx, name, 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("PutConcurrency(%q) = %v, want ErrNotFound", name, err)
		}
		if _, _, err := e.s.GetConcurrency(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetConcurrency(%q) = %v, want ErrNotFound", name, err)
		}
		if err := e.s.DeleteConcurrency(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteConcurrency(%q) = %v, want ErrNotFound", name, err)
		}
	}
	wantList(t, e.s, map[string]int{})
}

func testConcurrencyList(t *testing.T, e *env) {
	ctx := t.Context()
	for _, n := range []string{"a", "b", "c"} {
		mustCreate(t, e.s, newFunction(n, ""))
	}
	wantList(t, e.s, map[string]int{})
	for name, n := range map[string]int{"a": 7, "c": 0} {
		if err := e.s.PutConcurrency(ctx, name, n); err != nil {
			t.Fatal(err)
		}
	}
	// A value whose function is gone (a delete that raced a put) is not
	// reported.
	if _, err := e.s.kv.Put(ctx, concurrencyKey("ghost"), []byte("9")); err != nil {
		t.Fatal(err)
	}
	wantList(t, e.s, map[string]int{"a": 7, "c": 0})
	if fns, err := e.s.ListFunctions(ctx); err != nil || len(fns) != 3 {
		t.Errorf("ListFunctions = %d functions, %v; want 3", len(fns), err)
	}
}

func testConcurrencyDeletedWithFunction(t *testing.T, e *env) {
	ctx := t.Context()
	_, sha := mustPutCode(t, e.s, 64)
	mustCreate(t, e.s, newFunction("gone", sha))
	if err := e.s.PutConcurrency(ctx, "gone", 3); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteFunction(ctx, "gone"); err != nil {
		t.Fatalf("DeleteFunction: %v", err)
	}
	if _, _, err := e.s.GetConcurrency(ctx, "gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetConcurrency after DeleteFunction = %v, want ErrNotFound", err)
	}
	wantList(t, e.s, map[string]int{})
	// A function re-created under the name starts without a reservation.
	mustCreate(t, e.s, newFunction("gone", ""))
	wantConcurrency(t, e.s, "gone", 0, false)
}

func testConcurrencyPersistence(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("kept", ""))
	if err := e.s.PutConcurrency(t.Context(), "kept", 42); err != nil {
		t.Fatal(err)
	}
	s := e.reopen()
	wantConcurrency(t, s, "kept", 42, true)
	wantList(t, s, map[string]int{"kept": 42})
}

func testConcurrencyWatch(t *testing.T, e *env) {
	ctx := t.Context()
	mustCreate(t, e.s, newFunction("w", ""))
	names := make(chan string, 16)
	if err := e.s.Watch(ctx, func(name string) { names <- name }); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if err := e.s.PutConcurrency(ctx, "w", 2); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteConcurrency(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	// Put and delete are reported under the function's name; the bucket
	// keeps one value per key, so the two may arrive as one call.
	select {
	case got := <-names:
		if got != "w" {
			t.Errorf("Watch reported %q, want %q", got, "w")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not report the change within 10s")
	}
}
