package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"gust/internal/envpool"
	"gust/internal/lambda"
)

// scrape serves one request of r's handler and parses the text answer.
func scrape(t *testing.T, r *Registry) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape: Content-Type %q, want text/plain", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	return fams
}

// value is the value of the series of name whose labels include want
// (counter, gauge, or a histogram's count); ok is false if none matches.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for k, w := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == w {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func wantValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := value(fams, name, labels)
	if !ok {
		t.Errorf("%s%v: no such series", name, labels)
		return
	}
	if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

func wantAbsent(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) {
	t.Helper()
	if v, ok := value(fams, name, labels); ok {
		t.Errorf("%s%v = %v, want no such series", name, labels, v)
	}
}

type L = map[string]string

func TestErrorKind(t *testing.T) {
	tests := []struct{ errorType, want string }{
		{"", ""},
		{"Sandbox.Timedout", errorTimeout},
		{"Runtime.ExitError", errorRuntime},
		{"Runtime.OutOfMemory", errorRuntime},
		{"Runtime.ImportModuleError", errorRuntime},
		{"Runtime.InvalidEntrypoint", errorRuntime},
		{"Runtime.Unknown", errorFunction}, // a handler's exception of a type Lambda does not know
		{"Runtime.UnhandledPromiseRejection", errorFunction},
		{"ValueError", errorFunction},
		{"Function.ResponseSizeTooLarge", errorFunction},
		{"Error", errorFunction},
	}
	for _, tt := range tests {
		if got := errorKind(tt.errorType); got != tt.want {
			t.Errorf("errorKind(%q) = %q, want %q", tt.errorType, got, tt.want)
		}
	}
}

func TestInvokedAndThrottledCounts(t *testing.T) {
	r := New(Options{})
	inv := envpool.Invocation{Function: "fn", Version: "$LATEST", Duration: 20 * time.Millisecond, BilledMs: 20}
	cold := inv
	cold.InitDuration, cold.BilledMs = 150*time.Millisecond, 170
	r.Invoked(cold)
	for range 3 {
		r.Invoked(inv)
	}
	failed := inv
	failed.ErrorType, failed.FunctionError = "ValueError", true
	r.Invoked(failed)
	timedOut := inv
	timedOut.ErrorType, timedOut.Duration = "Sandbox.Timedout", 3*time.Second
	r.Invoked(timedOut)
	v1 := inv
	v1.Version = "1"
	r.Invoked(v1)
	r.Throttled("fn", lambda.ReasonReservedFunctionConcurrentLimitExceeded)
	r.Throttled("fn", "")

	fams := scrape(t, r)
	latest := L{"function": "fn", "version": "$LATEST"}
	wantValue(t, fams, "gust_invocations_total", latest, 6)
	wantValue(t, fams, "gust_invocations_total", L{"function": "fn", "version": "1"}, 1)
	wantValue(t, fams, "gust_duration_seconds", latest, 6)
	wantValue(t, fams, "gust_cold_starts_total", latest, 1)
	wantValue(t, fams, "gust_init_duration_seconds", latest, 1)
	wantValue(t, fams, "gust_errors_total", L{"function": "fn", "version": "$LATEST", "type": "function"}, 1)
	wantValue(t, fams, "gust_errors_total", L{"function": "fn", "version": "$LATEST", "type": "timeout"}, 1)
	wantAbsent(t, fams, "gust_errors_total", L{"type": "runtime"})
	wantValue(t, fams, "gust_throttles_total", L{"function": "fn", "reason": lambda.ReasonReservedFunctionConcurrentLimitExceeded}, 1)
	wantValue(t, fams, "gust_throttles_total", L{"function": "fn", "reason": "Unknown"}, 1)
	// 170 + 4×20 + 20 ms, billed to the microsecond-free millisecond.
	if got, _ := value(fams, "gust_billed_duration_seconds_total", latest); got < 0.2699 || got > 0.2701 {
		t.Errorf("billed seconds = %v, want 0.27", got)
	}
	h := fams["gust_duration_seconds"].GetMetric()
	for _, m := range h {
		if m.GetLabel()[1].GetValue() != "$LATEST" {
			continue
		}
		// 5 of 6 invocations took 20 ms: the 25 ms bucket holds them.
		for _, b := range m.GetHistogram().GetBucket() {
			if b.GetUpperBound() == 0.025 && b.GetCumulativeCount() != 5 {
				t.Errorf("duration bucket le=0.025 holds %d, want 5", b.GetCumulativeCount())
			}
		}
	}
	// The server's own: Go runtime and process.
	for _, name := range []string{"go_goroutines", "go_gc_duration_seconds", "process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("no %s in the scrape", name)
		}
	}
}

// fakeFunctions is a store listing a fixed set of functions and aliases.
type fakeFunctions struct {
	mu      sync.Mutex
	names   []string
	aliases map[string]string // "fn:alias" → version
	onList  func()            // runs during each listing
	fail    bool
}

func (f *fakeFunctions) ListFunctions(context.Context) ([]*lambda.Function, error) {
	f.mu.Lock()
	names, onList, fail := append([]string(nil), f.names...), f.onList, f.fail
	f.mu.Unlock()
	if fail {
		return nil, errors.New("store down")
	}
	if onList != nil {
		onList()
	}
	var out []*lambda.Function
	for _, n := range names {
		out = append(out, &lambda.Function{Name: n, Version: lambda.LatestVersion})
	}
	return out, nil
}

func (f *fakeFunctions) GetAlias(_ context.Context, name, alias string) (*lambda.Alias, error) {
	v, ok := f.aliases[name+":"+alias]
	if !ok {
		return nil, errors.New("no such alias")
	}
	return &lambda.Alias{Function: name, Name: alias, FunctionVersion: v}, nil
}

func (f *fakeFunctions) set(names ...string) {
	f.mu.Lock()
	f.names = names
	f.mu.Unlock()
}

func TestDeletedFunctionSeriesDropped(t *testing.T) {
	fns := &fakeFunctions{names: []string{"keep", "gone"}}
	r := New(Options{Functions: fns})
	pool := &fakePool{}
	p := r.TrackPool(pool)
	for _, name := range []string{"keep", "gone"} {
		r.Invoked(envpool.Invocation{Function: name, Version: "$LATEST", InitDuration: time.Millisecond})
		r.Throttled(name, "ConcurrentInvocationLimitExceeded")
		e, _ := p.Acquire(context.Background(), &lambda.Function{Name: name, Version: "$LATEST"}, "rid")
		p.Release(e)
	}
	fams := scrape(t, r)
	wantValue(t, fams, "gust_invocations_total", L{"function": "gone"}, 1)
	wantValue(t, fams, "gust_concurrent_executions", L{"function": "gone"}, 0)

	fns.set("keep")
	fams = scrape(t, r)
	for _, name := range []string{"gust_invocations_total", "gust_cold_starts_total", "gust_throttles_total",
		"gust_duration_seconds", "gust_init_duration_seconds", "gust_billed_duration_seconds_total", "gust_concurrent_executions"} {
		wantAbsent(t, fams, name, L{"function": "gone"})
		if _, ok := value(fams, name, L{"function": "keep"}); !ok {
			t.Errorf("%s of a function that still exists was dropped", name)
		}
	}

	// A function created and invoked while a scrape lists functions is
	// not in that listing; its series must survive the scrape.
	fns.onList = func() {
		fns.onList = nil
		r.Invoked(envpool.Invocation{Function: "new", Version: "$LATEST"})
	}
	fams = scrape(t, r)
	wantValue(t, fams, "gust_invocations_total", L{"function": "new"}, 1)

	// A store that cannot be read drops nothing.
	fns.fail = true
	fams = scrape(t, r)
	wantValue(t, fams, "gust_invocations_total", L{"function": "keep"}, 1)
}

// fakePool hands out fresh environments and reports fixed accounting.
type fakePool struct {
	stats       envpool.Stats
	provisioned map[string][2]int // "fn:qualifier" → allocated, available
	released    atomic.Int64
}

func (p *fakePool) Acquire(context.Context, *lambda.Function, string) (*envpool.Env, error) {
	return new(envpool.Env), nil
}
func (p *fakePool) Release(*envpool.Env) { p.released.Add(1) }
func (p *fakePool) Stats() envpool.Stats { return p.stats }
func (p *fakePool) Provisioned(name string) []string {
	var out []string
	for k := range p.provisioned {
		if n, q, _ := strings.Cut(k, ":"); n == name {
			out = append(out, q)
		}
	}
	return out
}
func (p *fakePool) ProvisionedStatus(name, qualifier string) (int, int) {
	s := p.provisioned[name+":"+qualifier]
	return s[0], s[1]
}

func TestPoolMetrics(t *testing.T) {
	fns := &fakeFunctions{names: []string{"fn", "other"}, aliases: map[string]string{"fn:live": "2"}}
	r := New(Options{Functions: fns})
	pool := &fakePool{
		stats:       envpool.Stats{Busy: 3, Idle: 4, Total: 9},
		provisioned: map[string][2]int{"fn:1": {4, 4}, "fn:live": {2, 2}, "other:3": {0, 0}},
	}
	p := r.TrackPool(pool)
	acquire := func(version string) *envpool.Env {
		e, err := p.Acquire(context.Background(), &lambda.Function{Name: "fn", Version: version}, "rid")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	v1a, v1b, v2a, v2b, v2c := acquire("1"), acquire("1"), acquire("2"), acquire("2"), acquire("2")
	p.Release(v1b)

	fams := scrape(t, r)
	wantValue(t, fams, "gust_concurrent_executions", L{"function": "fn", "version": "1"}, 1)
	wantValue(t, fams, "gust_concurrent_executions", L{"function": "fn", "version": "2"}, 3)
	wantValue(t, fams, "gust_environments", L{"state": "busy"}, 3)
	wantValue(t, fams, "gust_environments", L{"state": "idle"}, 4)
	wantValue(t, fams, "gust_environments", L{"state": "starting"}, 2)
	wantValue(t, fams, "gust_provisioned_concurrency_utilization", L{"function": "fn", "qualifier": "1"}, 0.25)
	// The alias runs version 2: 3 in flight, but only 2 provisioned.
	wantValue(t, fams, "gust_provisioned_concurrency_utilization", L{"function": "fn", "qualifier": "live"}, 1)
	wantValue(t, fams, "gust_provisioned_concurrency_utilization", L{"function": "other", "qualifier": "3"}, 0)

	for _, e := range []*envpool.Env{v1a, v2a, v2b, v2c} {
		p.Release(e)
	}
	p.Release(v1a) // a second release is the pool's business; the count stays at 0
	if n := pool.released.Load(); n != 6 {
		t.Errorf("pool saw %d releases, want 6", n)
	}
	fams = scrape(t, r)
	wantValue(t, fams, "gust_concurrent_executions", L{"function": "fn", "version": "1"}, 0)
	wantValue(t, fams, "gust_concurrent_executions", L{"function": "fn", "version": "2"}, 0)
	wantValue(t, fams, "gust_provisioned_concurrency_utilization", L{"function": "fn", "qualifier": "live"}, 0)
}

type fakeAsync map[string]AsyncStats

func (f fakeAsync) AsyncStats(_ context.Context, function string) (AsyncStats, error) {
	if function == "broken" {
		return AsyncStats{}, errors.New("consumer info: timeout")
	}
	return f[function], nil
}

type fakeJetStream struct{ store uint64 }

func (f fakeJetStream) AccountInfo(context.Context) (*jetstream.AccountInfo, error) {
	return &jetstream.AccountInfo{Tier: jetstream.Tier{Store: f.store}}, nil
}

func TestAsyncAndStoreMetrics(t *testing.T) {
	fns := &fakeFunctions{names: []string{"fn", "idle", "broken"}}
	r := New(Options{Functions: fns, JetStream: fakeJetStream{store: 123456}})
	fams := scrape(t, r)
	wantAbsent(t, fams, "gust_async_queue_depth", nil) // no queue yet

	r.UseAsyncQueue(fakeAsync{"fn": {Queued: 7, InFlight: 2, OldestEventAge: 1500 * time.Millisecond, DeadLettered: 3, DestinationDeliveryFailures: 1}})
	fams = scrape(t, r)
	fn := L{"function": "fn"}
	wantValue(t, fams, "gust_async_queue_depth", fn, 7)
	wantValue(t, fams, "gust_async_events_in_flight", fn, 2)
	wantValue(t, fams, "gust_async_oldest_event_age_seconds", fn, 1.5)
	wantValue(t, fams, "gust_async_dead_letters_total", fn, 3)
	wantValue(t, fams, "gust_async_destination_failures_total", fn, 1)
	wantValue(t, fams, "gust_async_queue_depth", L{"function": "idle"}, 0)
	wantAbsent(t, fams, "gust_async_queue_depth", L{"function": "broken"})
	wantValue(t, fams, "gust_nats_store_bytes", nil, 123456)
	if got := fams["gust_async_dead_letters_total"].GetType(); got != dto.MetricType_COUNTER {
		t.Errorf("gust_async_dead_letters_total is a %v, want a counter", got)
	}
}

// TestObserverConcurrentWithScrapes runs observer calls, pool tracking and
// scrapes at once, for the race detector, and checks nothing was lost.
func TestObserverConcurrentWithScrapes(t *testing.T) {
	fns := &fakeFunctions{names: []string{"fn"}}
	r := New(Options{Functions: fns})
	p := r.TrackPool(&fakePool{})
	const workers, each = 4, 200
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				e, _ := p.Acquire(context.Background(), &lambda.Function{Name: "fn", Version: "$LATEST"}, "rid")
				r.Invoked(envpool.Invocation{Function: "fn", Version: "$LATEST", Duration: time.Millisecond})
				p.Release(e)
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			scrape(t, r)
		}
	}()
	wg.Wait()
	<-done
	fams := scrape(t, r)
	wantValue(t, fams, "gust_invocations_total", L{"function": "fn"}, workers*each)
	wantValue(t, fams, "gust_concurrent_executions", L{"function": "fn"}, 0)
}
