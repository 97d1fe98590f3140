package metrics

import (
	"context"
	"sync"

	"gust/internal/envpool"
	"gust/internal/invoke"
	"gust/internal/lambda"
)

// Pool is the environment pool (envpool.Manager): the invoke service's
// Acquire and Release, and the accounting scrapes read.
type Pool interface {
	invoke.Pool
	Stats() envpool.Stats
	// Provisioned lists the qualifiers of name's provisioned-concurrency
	// configs; ProvisionedStatus reports one config's environments.
	Provisioned(name string) []string
	ProvisionedStatus(name, qualifier string) (allocated, available int)
}

// TrackPool returns p with every Acquire and Release counted, for
// gust_concurrent_executions, and makes scrapes read p's environment
// counts and provisioned-concurrency configs. The invoke service must use
// the pool it returns. Call it once, before the handler serves.
//
// The pool's Observer calls say when an invocation ended, not when it
// began, so the count of invocations holding an environment is kept
// here: from Acquire's return (after any cold start) to Release.
func (r *Registry) TrackPool(p Pool) invoke.Pool {
	r.pool.Store(&p)
	return trackedPool{p: p, in: &r.inflight}
}

type trackedPool struct {
	p  Pool
	in *inflight
}

func (t trackedPool) Acquire(ctx context.Context, fn *lambda.Function, requestID string) (*envpool.Env, error) {
	e, err := t.p.Acquire(ctx, fn, requestID)
	if err == nil {
		t.in.begin(e, series{fn.Name, fn.Version})
	}
	return e, err
}

func (t trackedPool) Release(e *envpool.Env) {
	t.in.end(e)
	t.p.Release(e)
}

// series names one function version.
type series struct{ function, version string }

// inflight counts the invocations holding an environment, per function
// version. A version keeps its (zero) count until its function is
// forgotten, so its series does not flicker in and out.
type inflight struct {
	mu    sync.Mutex
	count map[series]int
	held  map[*envpool.Env]series
}

func (in *inflight) begin(e *envpool.Env, s series) {
	in.mu.Lock()
	if in.count == nil {
		in.count = make(map[series]int)
		in.held = make(map[*envpool.Env]series)
	}
	in.count[s]++
	in.held[e] = s
	in.mu.Unlock()
}

func (in *inflight) end(e *envpool.Env) {
	in.mu.Lock()
	if s, ok := in.held[e]; ok {
		delete(in.held, e)
		in.count[s]--
	}
	in.mu.Unlock()
}

// snapshot copies the counts.
func (in *inflight) snapshot() map[series]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[series]int, len(in.count))
	for s, n := range in.count {
		out[s] = n
	}
	return out
}

// idleFunctions lists the functions with no invocation in flight.
func (in *inflight) idleFunctions() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	busy := make(map[string]bool)
	for s, n := range in.count {
		if n > 0 {
			busy[s.function] = true
		}
	}
	var out []string
	listed := make(map[string]bool)
	for s := range in.count {
		if !busy[s.function] && !listed[s.function] {
			listed[s.function] = true
			out = append(out, s.function)
		}
	}
	return out
}

// forget drops the idle counts of function; one still in flight is kept
// until it ends, and dropped by a later scrape.
func (in *inflight) forget(function string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for s, n := range in.count {
		if s.function == function && n == 0 {
			delete(in.count, s)
		}
	}
}
