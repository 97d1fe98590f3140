package envpool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gust/internal/lambda"
	"gust/internal/runtimeapi"
)

// Provisioned concurrency, as Lambda does it: a config of a published
// version or an alias keeps n environments of one version initialised
// ahead of demand. They are started with
// AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency, sit on their
// version's idle stack like any warm environment (so Acquire finds them,
// and takes them before on-demand ones), are never reaped as idle, and
// are started again when one exits or breaks. Invocations past n spill
// over to on-demand environments as before. While busy they count toward
// the function's reserved concurrency and the account's concurrency like
// any environment; while idle they count toward neither.
//
// An alias's environments run its primary version only: Lambda splits a
// weighted alias's provisioned concurrency between its two versions by
// weight, which a node keeping a handful of environments cannot do
// meaningfully, so Gust keeps them all on the version most invocations
// take. Each node keeps the full n of every config it is told about.
//
// Goroutines: one per environment being started for a config, counted in
// Manager.wg and ended by Close (through prov.ctx) or when the config is
// removed (through its set's ctx).

// provisioning is the Manager's provisioned-concurrency state. sets is
// guarded by Manager.mu; ctx is cancelled by Close.
type provisioning struct {
	ctx    context.Context
	cancel context.CancelFunc
	sets   map[provisionedKey]*provisionedSet
}

func newProvisioning() provisioning {
	ctx, cancel := context.WithCancel(context.Background())
	return provisioning{ctx: ctx, cancel: cancel, sets: make(map[provisionedKey]*provisionedSet)}
}

// provisionedKey names a config: a function and a version or alias.
type provisionedKey struct{ name, qualifier string }

// provisionedSet is the environments kept for one config. Every field but
// ctx and cancel is guarded by Manager.mu.
type provisionedSet struct {
	key  provisionedKey
	fn   *lambda.Function // the version the environments run
	pool poolKey          // fn's pool
	want int
	// envs are the initialised environments of the set, idle or busy;
	// an environment leaves it when it is forgotten or detached.
	envs     map[*Env]struct{}
	starting int  // environments being started for the set
	stopped  bool // the config was removed or replaced
	ctx      context.Context
	cancel   context.CancelFunc
}

// SetProvisioned keeps n environments of fn (a published version; for an
// alias, the version it routes to) initialised for the config of
// qualifier (the version or the alias). It replaces the config's earlier
// n or version: environments of another version are stopped, surplus idle
// ones are stopped at once and busy ones when released. Setting the same
// config again changes nothing, so callers may re-apply stored configs
// freely. n < 1 removes the config, as ClearProvisioned does. It returns
// at once; ProvisionedStatus reports progress.
func (m *Manager) SetProvisioned(fn *lambda.Function, qualifier string, n int) {
	if n < 1 {
		m.ClearProvisioned(fn.Name, qualifier)
		return
	}
	key := provisionedKey{fn.Name, qualifier}
	pk := poolKey{fn.Name, fn.Version, fn.RevisionID}
	var victims []*Env
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	s := m.prov.sets[key]
	if s != nil && s.pool != pk {
		victims = m.stopSet(s)
		s = nil
	}
	if s == nil {
		s = &provisionedSet{key: key, fn: fn, pool: pk, envs: make(map[*Env]struct{})}
		s.ctx, s.cancel = context.WithCancel(m.prov.ctx)
		m.prov.sets[key] = s
	}
	s.want = n
	victims = append(victims, m.trimSet(s)...)
	m.fillSet(s)
	m.mu.Unlock()
	m.forgetAll(victims)
}

// ClearProvisioned removes the config of name and qualifier: its idle
// environments stop at once, busy ones when released. Clearing a config
// this Manager does not keep is a no-op.
func (m *Manager) ClearProvisioned(name, qualifier string) {
	m.mu.Lock()
	s := m.prov.sets[provisionedKey{name, qualifier}]
	var victims []*Env
	if s != nil {
		victims = m.stopSet(s)
	}
	m.mu.Unlock()
	m.forgetAll(victims)
}

// ProvisionedStatus reports a config's environments, each at most its n:
// allocated counts those started or being started, available those
// initialised and running. Both are 0 for a config this Manager does not
// keep. The config is ready when available reaches n.
func (m *Manager) ProvisionedStatus(name, qualifier string) (allocated, available int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.prov.sets[provisionedKey{name, qualifier}]
	if s == nil {
		return 0, 0
	}
	for e := range s.envs {
		if e.exited.Err() == nil {
			available++
		}
	}
	return min(len(s.envs)+s.starting, s.want), min(available, s.want)
}

// Provisioned lists the qualifiers of name whose configs this Manager
// keeps, in lambda.CompareQualifiers order, so a caller can clear those
// no longer stored.
func (m *Manager) Provisioned(name string) []string {
	m.mu.Lock()
	var out []string
	for k := range m.prov.sets {
		if k.name == name {
			out = append(out, k.qualifier)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, lambda.CompareQualifiers)
	return out
}

// stopSet ends s: no more environments are started for it, starts in
// flight give up, its idle environments are returned for the caller to
// forget after unlocking and its busy ones stop when released. Callers
// hold m.mu.
func (m *Manager) stopSet(s *provisionedSet) []*Env {
	s.stopped = true
	s.cancel()
	if m.prov.sets[s.key] == s {
		delete(m.prov.sets, s.key)
	}
	return m.takeIdleOf(s, len(s.envs))
}

// trimSet returns, for the caller to forget, idle environments of s it
// has beyond its n. Busy ones over n stop when released (keepProvisioned)
// and starts in flight are discarded when they finish. Callers hold m.mu.
func (m *Manager) trimSet(s *provisionedSet) []*Env {
	return m.takeIdleOf(s, len(s.envs)-s.want)
}

// takeIdleOf detaches up to limit idle environments of s from s and from
// their pools' idle stacks. Callers hold m.mu.
func (m *Manager) takeIdleOf(s *provisionedSet, limit int) []*Env {
	var out []*Env
	for e := range s.envs {
		if len(out) >= limit {
			break
		}
		p := e.pool
		i := slices.Index(p.idle, e)
		if i < 0 {
			continue // busy
		}
		p.idle = slices.Delete(p.idle, i, i+1)
		p.total--
		m.dropIfEmpty(p)
		m.detach(e)
		out = append(out, e)
	}
	return out
}

// detach makes e an environment of no config, so forgetting it starts no
// replacement. Callers hold m.mu.
func (m *Manager) detach(e *Env) {
	if s := e.provisioned; s != nil {
		delete(s.envs, e)
		e.provisioned = nil
	}
}

// fillSet starts environments until s has its n, counting those being
// started. Callers hold m.mu; after Close it starts nothing.
func (m *Manager) fillSet(s *provisionedSet) {
	for !s.stopped && !m.closed && len(s.envs)+s.starting < s.want {
		s.starting++
		m.wg.Add(1)
		go m.startProvisioned(s)
	}
}

// keepProvisioned reports whether a released environment may go back to
// the idle stack as far as provisioning goes: one whose config was removed
// or lowered below what it has is detached and stopped instead. Callers
// hold m.mu.
func (m *Manager) keepProvisioned(e *Env) bool {
	s := e.provisioned
	if s == nil || (!s.stopped && len(s.envs) <= s.want) {
		return true
	}
	m.detach(e)
	return false
}

// lostProvisioned is told of every environment forgotten: one that still
// belongs to a config broke or exited, so a replacement is started. An
// exit counts as an init failure of its version, so a runtime that exits
// right after init backs off as a crash-looping init does. Callers hold
// m.mu.
func (m *Manager) lostProvisioned(e *Env) {
	s := e.provisioned
	if s == nil {
		return
	}
	m.detach(e)
	if s.stopped {
		return
	}
	if e.exited.Err() != nil {
		m.initFailed(s.pool)
	}
	m.fillSet(s)
}

// invalidateProvisioned stops the configs of name whose version and
// revision are not in live (nil: all of them), as Invalidate does their
// pools, and returns their idle environments to forget. Callers hold
// m.mu.
func (m *Manager) invalidateProvisioned(name string, live map[string]string) []*Env {
	var victims []*Env
	for k, s := range m.prov.sets {
		if k.name == name && (live == nil || live[s.fn.Version] != s.fn.RevisionID) {
			victims = append(victims, m.stopSet(s)...)
		}
	}
	return victims
}

// initFailed records one more init failure of a version, for the backoff
// of its next init. Callers hold m.mu.
func (m *Manager) initFailed(k poolKey) {
	f := m.failures[k]
	m.failures[k] = initFailures{count: f.count + 1, last: time.Now()}
}

// takeProvisioned pops the most recently used live provisioned environment
// of p's idle stack, if there is one: the work they are kept warm for.
// Callers hold m.mu.
func (p *pool) takeProvisioned() *Env {
	for i := len(p.idle) - 1; i >= 0; i-- {
		if e := p.idle[i]; e.provisioned != nil && e.usable(time.Now()) {
			p.idle = slices.Delete(p.idle, i, i+1)
			return e
		}
	}
	return nil
}

// startProvisioned starts and initialises one environment for s, then
// puts it on its version's idle stack, or discards it if s no longer
// wants it. A failure is recorded for the version's init backoff and
// another start is made (after that backoff) while s still wants one.
func (m *Manager) startProvisioned(s *provisionedSet) {
	defer m.wg.Done()
	m.mu.Lock()
	if s.stopped { // removed before this start got going
		s.starting--
		m.mu.Unlock()
		return
	}
	p := m.pools[s.pool]
	if p == nil {
		p = &pool{key: s.pool, fn: s.fn}
		m.pools[s.pool] = p
	}
	p.total++
	wait := m.failures[s.pool].backoff()
	m.mu.Unlock()

	e, err := m.initProvisioned(s.ctx, p, wait)

	m.mu.Lock()
	s.starting--
	discard := err == nil && (s.stopped || m.closed || p.stale || len(s.envs) >= s.want || e.exited.Err() != nil)
	if discard && e.exited.Err() != nil {
		err = context.Cause(e.exited) // exited right after init: a failure too
	}
	if err != nil || discard {
		p.total--
		m.dropIfEmpty(p)
		if err != nil && s.ctx.Err() == nil && !errors.Is(err, ErrClosed) {
			m.initFailed(s.pool)
			m.logger.Warn("provisioned environment failed to start", "function", s.key.name, "qualifier", s.key.qualifier, "version", s.fn.Version, "err", err)
		}
		m.fillSet(s)
		m.mu.Unlock()
		if discard {
			m.forget(e)
		}
		return
	}
	// Unlike an on-demand start, a success does not wipe the failure
	// record: an environment that inits and then exits must keep backing
	// off until the record ages out.
	e.provisioned = s
	s.envs[e] = struct{}{}
	e.lastUsed = time.Now()
	p.idle = append(p.idle, e)
	m.mu.Unlock()
}

// initProvisioned waits out the version's init backoff, then launches an
// environment and waits for its init. A failed init is logged in the
// environment's stream as Lambda logs it (INIT_REPORT … Status: error).
func (m *Manager) initProvisioned(ctx context.Context, p *pool, wait time.Duration) (*Env, error) {
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		}
	}
	spec, err := m.opts.Launcher.Prepare(ctx, p.fn)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	start := time.Now()
	e, err := m.launch(p, spec, initProvisioned)
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	start = start.Add(e.proc.SetupWait()) // queued, not initializing
	if err := m.waitInit(ctx, e, m.opts.InitTimeout, errInitTimeout); err != nil {
		m.forget(e) // not yet part of the set: nothing is restarted for it
		if ctx.Err() == nil {
			e.out.settle(50 * time.Millisecond)
			e.out.platform(fmt.Sprintf("INIT_REPORT Init Duration: %.2f ms\tPhase: init\tStatus: %s", msSince(start), initStatus(err)))
		}
		e.out.endTail()
		return nil, fmt.Errorf("init: %w", err)
	}
	e.initDuration = time.Since(start)
	e.cold = false // the init is done before any invocation: no Init Duration in REPORT
	e.out.endTail()
	return e, nil
}

// initStatus is the Status of a failed init's INIT_REPORT line.
func initStatus(err error) string {
	var ie *runtimeapi.InitError
	switch {
	case errors.Is(err, errInitTimeout):
		return "timeout"
	case errors.As(err, &ie) && ie.ErrorType != "":
		return "error\tError Type: " + ie.ErrorType
	case errors.Is(err, ErrRuntimeExited):
		return "error\tError Type: Runtime.ExitError"
	default:
		return "error\tError Type: Runtime.Unknown"
	}
}
