package store

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gust/internal/lambda"
)

// eventInvokeConfigCases run against every backend, like the conformance
// suite.
var eventInvokeConfigCases = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"PutGet", testEICPutGet},
	{"NotFound", testEICNotFound},
	{"PutReplaces", testEICPutReplaces},
	{"Update", testEICUpdate},
	{"UpdateConcurrent", testEICUpdateConcurrent},
	{"Delete", testEICDelete},
	{"List", testEICList},
	{"DeleteFunction", testEICDeleteFunction},
	{"Persistence", testEICPersistence},
	{"Watch", testEICWatch},
}

func TestEventInvokeConfig(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range eventInvokeConfigCases {
				t.Run(c.name, func(t *testing.T) {
					c.run(t, b.newEnv(t))
				})
			}
		})
	}
}

func intp(n int) *int { return &n }

// newEIC is a config of name:qualifier with every field set.
func newEIC(name, qualifier string) *lambda.EventInvokeConfig {
	return &lambda.EventInvokeConfig{
		FunctionName:             name,
		Qualifier:                qualifier,
		MaximumRetryAttempts:     intp(1),
		MaximumEventAgeInSeconds: intp(120),
		OnSuccess:                "arn:aws:sqs:us-east-1:000000000000:ok",
		OnFailure:                "arn:aws:lambda:us-east-1:000000000000:function:dlq",
		LastModified:             time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
	}
}

func mustPutEIC(t *testing.T, s *Store, cfg *lambda.EventInvokeConfig) {
	t.Helper()
	if err := s.PutEventInvokeConfig(t.Context(), cfg); err != nil {
		t.Fatalf("PutEventInvokeConfig(%s:%s): %v", cfg.FunctionName, cfg.Qualifier, err)
	}
}

func testEICPutGet(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	for _, q := range []string{lambda.LatestVersion, "3", "live"} {
		want := newEIC("f", q)
		mustPutEIC(t, e.s, want)
		got, err := e.s.GetEventInvokeConfig(t.Context(), "f", q)
		if err != nil {
			t.Fatalf("GetEventInvokeConfig(f, %s): %v", q, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetEventInvokeConfig(f, %s) mismatch (-want +got):\n%s", q, diff)
		}
	}
	// Each qualifier has its own config.
	latest, err := e.s.GetEventInvokeConfig(t.Context(), "f", lambda.LatestVersion)
	if err != nil || latest.Qualifier != lambda.LatestVersion {
		t.Errorf("$LATEST config = %+v, %v; want its own", latest, err)
	}
	// Unset limits stay unset.
	bare := &lambda.EventInvokeConfig{FunctionName: "f", Qualifier: "live"}
	mustPutEIC(t, e.s, bare)
	got, err := e.s.GetEventInvokeConfig(t.Context(), "f", "live")
	if err != nil {
		t.Fatal(err)
	}
	if got.MaximumRetryAttempts != nil || got.MaximumEventAgeInSeconds != nil || got.Retries() != lambda.DefaultAsyncRetries {
		t.Errorf("bare config came back as %+v", got)
	}
	zero := newEIC("f", "live")
	zero.MaximumRetryAttempts = intp(0)
	mustPutEIC(t, e.s, zero)
	if got, err := e.s.GetEventInvokeConfig(t.Context(), "f", "live"); err != nil || got.MaximumRetryAttempts == nil || *got.MaximumRetryAttempts != 0 {
		t.Errorf("0 retries came back as %+v, %v; want an explicit 0", got, err)
	}
}

func testEICNotFound(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	ctx := t.Context()
	for _, c := range []struct{ name, q string }{
		{"f", lambda.LatestVersion}, {"f", "1"}, {"nope", lambda.LatestVersion}, {"a.b", lambda.LatestVersion}, {"f", "a.b"}, {"f", ""},
	} {
		if _, err := e.s.GetEventInvokeConfig(ctx, c.name, c.q); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q, %q) = %v, want ErrNotFound", c.name, c.q, err)
		}
		if err := e.s.DeleteEventInvokeConfig(ctx, c.name, c.q); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete(%q, %q) = %v, want ErrNotFound", c.name, c.q, err)
		}
		_, err := e.s.UpdateEventInvokeConfig(ctx, c.name, c.q, func(*lambda.EventInvokeConfig) error { return nil })
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Update(%q, %q) = %v, want ErrNotFound", c.name, c.q, err)
		}
	}
	// A config of a function that does not exist is refused.
	if err := e.s.PutEventInvokeConfig(ctx, newEIC("nope", lambda.LatestVersion)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Put for a missing function = %v, want ErrNotFound", err)
	}
	if err := e.s.PutEventInvokeConfig(ctx, newEIC("f", "a.b")); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Put with an invalid qualifier = %v, want a plain error", err)
	}
	if cfgs, err := e.s.ListEventInvokeConfigs(ctx, "nope"); err != nil || len(cfgs) != 0 || cfgs == nil {
		t.Errorf("List(nope) = %v, %v; want an empty slice", cfgs, err)
	}
}

func testEICPutReplaces(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	mustPutEIC(t, e.s, newEIC("f", lambda.LatestVersion))
	want := &lambda.EventInvokeConfig{FunctionName: "f", Qualifier: lambda.LatestVersion, MaximumRetryAttempts: intp(0),
		LastModified: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)}
	mustPutEIC(t, e.s, want)
	got, err := e.s.GetEventInvokeConfig(t.Context(), "f", lambda.LatestVersion)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after a second put (-want +got):\n%s", diff)
	}
}

func testEICUpdate(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	mustPutEIC(t, e.s, newEIC("f", "2"))
	got, err := e.s.UpdateEventInvokeConfig(t.Context(), "f", "2", func(c *lambda.EventInvokeConfig) error {
		c.OnSuccess = ""
		c.MaximumRetryAttempts = intp(0)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := newEIC("f", "2")
	want.OnSuccess, want.MaximumRetryAttempts = "", intp(0)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Update result (-want +got):\n%s", diff)
	}
	stored, err := e.s.GetEventInvokeConfig(t.Context(), "f", "2")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Errorf("stored after Update (-want +got):\n%s", diff)
	}

	// An error from mutate writes nothing and comes back as is.
	boom := errors.New("boom")
	_, err = e.s.UpdateEventInvokeConfig(t.Context(), "f", "2", func(c *lambda.EventInvokeConfig) error {
		c.MaximumRetryAttempts = intp(2)
		return boom
	})
	if err != boom {
		t.Errorf("Update with failing mutate = %v, want %v", err, boom)
	}
	// mutate may not move the config.
	_, err = e.s.UpdateEventInvokeConfig(t.Context(), "f", "2", func(c *lambda.EventInvokeConfig) error {
		c.Qualifier = "3"
		return nil
	})
	if err == nil {
		t.Error("Update that changes the qualifier succeeded")
	}
	if again, _ := e.s.GetEventInvokeConfig(t.Context(), "f", "2"); again == nil || *again.MaximumRetryAttempts != 0 {
		t.Errorf("failed updates changed the config: %+v", again)
	}
}

func testEICUpdateConcurrent(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	start := newEIC("f", lambda.LatestVersion)
	start.MaximumEventAgeInSeconds = intp(0)
	mustPutEIC(t, e.s, start)
	const n = 8
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := e.s.UpdateEventInvokeConfig(t.Context(), "f", lambda.LatestVersion, func(c *lambda.EventInvokeConfig) error {
				*c.MaximumEventAgeInSeconds++ // a counter: a lost update shows
				return nil
			})
			if err != nil {
				t.Errorf("Update: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := e.s.GetEventInvokeConfig(t.Context(), "f", lambda.LatestVersion)
	if err != nil {
		t.Fatal(err)
	}
	if *got.MaximumEventAgeInSeconds != n {
		t.Errorf("after %d concurrent increments the counter is %d", n, *got.MaximumEventAgeInSeconds)
	}
}

func testEICDelete(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	mustPutEIC(t, e.s, newEIC("f", lambda.LatestVersion))
	mustPutEIC(t, e.s, newEIC("f", "1"))
	if err := e.s.DeleteEventInvokeConfig(t.Context(), "f", lambda.LatestVersion); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := e.s.GetEventInvokeConfig(t.Context(), "f", lambda.LatestVersion); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := e.s.DeleteEventInvokeConfig(t.Context(), "f", lambda.LatestVersion); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	if _, err := e.s.GetEventInvokeConfig(t.Context(), "f", "1"); err != nil {
		t.Errorf("the other qualifier's config went too: %v", err)
	}
	if _, err := e.s.GetFunction(t.Context(), "f", lambda.LatestVersion); err != nil {
		t.Errorf("the function went too: %v", err)
	}
}

func testEICList(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	mustCreate(t, e.s, newFunction("f2", "")) // a prefix-sharing neighbour
	mustCreate(t, e.s, newFunction("g", ""))
	for _, q := range []string{"live", "10", lambda.LatestVersion, "2", "beta"} {
		mustPutEIC(t, e.s, newEIC("f", q))
	}
	mustPutEIC(t, e.s, newEIC("f2", "1"))
	mustPutEIC(t, e.s, newEIC("g", lambda.LatestVersion))
	// Other per-function keys are not configs.
	if _, err := e.s.kv.Put(t.Context(), concurrencyKey("f"), []byte("5")); err != nil {
		t.Fatal(err)
	}
	cfgs, err := e.s.ListEventInvokeConfigs(t.Context(), "f")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cfgs {
		if c.FunctionName != "f" {
			t.Errorf("List(f) returned a config of %s", c.FunctionName)
		}
		got = append(got, c.Qualifier)
	}
	if diff := cmp.Diff([]string{lambda.LatestVersion, "2", "10", "beta", "live"}, got); diff != "" {
		t.Errorf("List(f) qualifiers (-want +got):\n%s", diff)
	}
	// Configs are not functions.
	fns, err := e.s.ListFunctions(t.Context())
	if err != nil || len(fns) != 3 {
		t.Errorf("ListFunctions = %d functions, %v; want 3", len(fns), err)
	}
	if cfgs, err := e.s.ListEventInvokeConfigs(t.Context(), "f2"); err != nil || len(cfgs) != 1 {
		t.Errorf("List(f2) = %d configs, %v; want 1", len(cfgs), err)
	}
}

func testEICDeleteFunction(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	mustCreate(t, e.s, newFunction("g", ""))
	mustPutEIC(t, e.s, newEIC("f", lambda.LatestVersion))
	mustPutEIC(t, e.s, newEIC("f", "live"))
	mustPutEIC(t, e.s, newEIC("g", lambda.LatestVersion))
	if err := e.s.DeleteFunction(t.Context(), "f"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e.s, newFunction("f", ""))
	for _, q := range []string{lambda.LatestVersion, "live"} {
		if _, err := e.s.GetEventInvokeConfig(t.Context(), "f", q); !errors.Is(err, ErrNotFound) {
			t.Errorf("re-created function's %s config = %v, want ErrNotFound", q, err)
		}
	}
	if cfgs, err := e.s.ListEventInvokeConfigs(t.Context(), "f"); err != nil || len(cfgs) != 0 {
		t.Errorf("List after DeleteFunction = %d configs, %v; want none", len(cfgs), err)
	}
	if _, err := e.s.GetEventInvokeConfig(t.Context(), "g", lambda.LatestVersion); err != nil {
		t.Errorf("another function's config went too: %v", err)
	}
}

func testEICPersistence(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	want := newEIC("f", lambda.LatestVersion)
	mustPutEIC(t, e.s, want)
	s := e.reopen()
	got, err := s.GetEventInvokeConfig(t.Context(), "f", lambda.LatestVersion)
	if err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
}

func testEICWatch(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	names := make(chan string, 16)
	if err := e.s.Watch(t.Context(), func(name string) { names <- name }); err != nil {
		t.Fatal(err)
	}
	mustPutEIC(t, e.s, newEIC("f", lambda.LatestVersion))
	select {
	case name := <-names:
		if name != "f" {
			t.Errorf("Watch reported %q, want f", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not report a config change")
	}
}
