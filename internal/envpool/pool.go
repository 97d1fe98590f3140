package envpool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"gust/internal/lambda"
	"gust/internal/runtimeapi"
	"gust/internal/sandbox"
)

// LaunchSpec says how to start a runtime for one function version.
type LaunchSpec struct {
	Argv       []string // Argv[0] absolute
	Dir        string   // the unpacked code: LAMBDA_TASK_ROOT and the working directory
	RuntimeDir string   // LAMBDA_RUNTIME_DIR
	Env        []string // extra variables the runtime needs
	// Expires, when set, is when something the environment was given
	// (its role's session credentials) stops working; the pool retires
	// the environment before then.
	Expires time.Time
}

// Launcher prepares code and command for a function version. It may do
// I/O (fetching and unpacking code) and is called on cold starts only.
type Launcher interface {
	Prepare(ctx context.Context, fn *lambda.Function) (LaunchSpec, error)
}

// Options configures a Manager.
type Options struct {
	Identity       lambda.Identity
	Launcher       Launcher
	Logs           LogWriter
	Logger         *slog.Logger
	MaxConcurrency int           // busy environments across all functions
	IdleTimeout    time.Duration // idle environments are stopped after this
	InitTimeout    time.Duration // 0 = lambda.InitTimeoutSeconds
	Sandbox        string        // sandbox.Kind: "process" (also "") or "linux"
	// Shells, if set, starts linux-sandbox environments in shells made
	// ahead of need; nil starts each afresh.
	Shells *sandbox.Shells
	// Observers learn of every REPORT line and every throttle, on the
	// invoking goroutine (observer.go). Default none.
	Observers []Observer
}

// Manager owns every pool of environments. It starts one reaper goroutine
// (stopped by Close), one goroutine per environment process, and one per
// environment being started for provisioned concurrency (provisioned.go).
type Manager struct {
	opts   Options
	logger *slog.Logger

	// reserveMu orders UpdateReserved calls: each reads or writes the
	// store and applies what it found as one step.
	reserveMu sync.Mutex

	mu       sync.Mutex
	pools    map[poolKey]*pool
	envs     map[*Env]struct{} // every live environment, busy or idle
	failures map[poolKey]initFailures
	probes   map[poolKey]*probe
	busy     int         // all busy environments; see concurrency.go
	conc     concurrency // reservations and per-function busy counts
	closed   bool
	wg       sync.WaitGroup
	// forgetting counts environments being torn down after Release.
	forgetting sync.WaitGroup
	stop       chan struct{}
	prov       provisioning // provisioned concurrency; see provisioned.go
}

// poolKey identifies one function version in one configuration: any
// update of $LATEST changes RevisionID and so gets a fresh pool.
type poolKey struct{ name, version, revision string }

type pool struct {
	key   poolKey
	fn    *lambda.Function
	idle  []*Env // most recently used last
	total int    // idle + busy + starting
	stale bool   // the function changed; environments are not reused
}

// initFailures is the crash-loop record of one function version. It is
// kept apart from the pool, which Invalidate may drop at any time (a
// store watch event, for one), so a crash loop cannot reset its own
// backoff; a changed function has a new key and starts afresh.
type initFailures struct {
	count int
	last  time.Time
}

// backoff is how long a new init must wait after consecutive failures, so
// that a crash-looping init does not spin: 100 ms doubling up to 5 s.
func (f initFailures) backoff() time.Duration {
	if f.count == 0 {
		return 0
	}
	d := min(100*time.Millisecond<<min(f.count-1, 6), 5*time.Second)
	return time.Until(f.last.Add(d))
}

// failureMemory is how long an init failure is remembered.
const failureMemory = time.Minute

// New starts a Manager.
func New(opts Options) *Manager {
	if opts.InitTimeout == 0 {
		opts.InitTimeout = lambda.InitTimeoutSeconds * time.Second
	}
	if opts.MaxConcurrency <= 0 {
		opts.MaxConcurrency = lambda.DefaultAccountConcurrency
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Manager{opts: opts, logger: opts.Logger.With("component", "envpool"),
		pools: make(map[poolKey]*pool), envs: make(map[*Env]struct{}), failures: make(map[poolKey]initFailures), probes: make(map[poolKey]*probe), stop: make(chan struct{})}
	m.prov = newProvisioning()
	m.wg.Add(1)
	go m.reap()
	return m
}

// ErrClosed is returned by Acquire once Close has begun.
var ErrClosed = errors.New("envpool: closed")

// Acquire returns an environment for fn, reserved for one invocation: a
// warm idle one if there is one, else a new one started and initialised
// (a cold start) within ctx and the init timeout. It throttles with
// TooManyRequestsException when the function's reserved concurrency, or
// the account's unreserved concurrency, is used up (see concurrency.go).
// Init failures are returned as *InitFailure, whose log names requestID.
// Release must follow a successful Acquire.
func (m *Manager) Acquire(ctx context.Context, fn *lambda.Function, requestID string) (*Env, error) {
	key := poolKey{fn.Name, fn.Version, fn.RevisionID}
	var (
		p     *pool
		pr    *probe
		wait  time.Duration
		found *Env
	)
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, ErrClosed
		}
		if err := m.admit(key.name); err != nil {
			m.mu.Unlock()
			m.observeThrottled(key.name, err)
			return nil, err
		}
		p = m.pools[key]
		if p == nil {
			p = &pool{key: key, fn: fn}
			m.pools[key] = p
		}
		var dead []*Env // exited while idle, before dropExited got to them
		found, dead = p.takeIdle()
		if found != nil {
			m.takeSlot(key.name)
			m.mu.Unlock()
			m.forgetAll(dead)
			return found, nil
		}
		// After an init failure only one init of this version runs at a
		// time; the others share its outcome rather than each starting a
		// process that will crash too.
		if m.failures[key].count > 0 {
			if other := m.probes[key]; other != nil {
				m.mu.Unlock()
				m.forgetAll(dead)
				select {
				case <-other.done:
					if other.fail != nil {
						return nil, other.fail
					}
					continue // it worked: take its environment or start another
				case <-ctx.Done():
					return nil, context.Cause(ctx)
				}
			}
			pr = &probe{done: make(chan struct{})}
			m.probes[key] = pr
		}
		m.takeSlot(key.name)
		p.total++
		wait = m.failures[key].backoff()
		m.mu.Unlock()
		m.forgetAll(dead)
		break
	}

	e, err := m.coldStart(ctx, p, wait, requestID)
	m.mu.Lock()
	var fail *InitFailure
	switch {
	case err == nil:
		delete(m.failures, key)
	case errors.As(err, &fail):
		f := m.failures[key]
		m.failures[key] = initFailures{count: f.count + 1, last: time.Now()}
	}
	if err != nil {
		m.freeSlot(key.name)
		p.total--
		m.dropIfEmpty(p)
	}
	if pr != nil {
		pr.fail = fail
		delete(m.probes, key)
		close(pr.done)
	}
	m.mu.Unlock()
	return e, err
}

// probe is the one init in flight for a version that failed before.
type probe struct {
	done chan struct{}
	fail *InitFailure // set before done is closed; nil if the init worked
}

// takeIdle pops the most recently used live environment, also returning
// any found exited on the way. Callers hold m.mu and forget the dead.
func (p *pool) takeIdle() (*Env, []*Env) {
	if e := p.takeProvisioned(); e != nil {
		return e, nil
	}
	var dead []*Env
	now := time.Now()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		e := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if !e.usable(now) {
			p.total--
			dead = append(dead, e)
			continue
		}
		return e, dead
	}
	return nil, dead
}

// InitFailure is a failed cold start: the runtime reported an init error,
// exited, or did not finish init in time. Payload is the error body the
// invoker receives; Log is the invocation's log tail (the runtime's init
// output, then START…REPORT).
type InitFailure struct {
	ErrorType string
	Payload   []byte
	Log       []byte
	Duration  time.Duration
}

func (f *InitFailure) Error() string { return "init failed: " + f.ErrorType }

func (m *Manager) coldStart(ctx context.Context, p *pool, wait time.Duration, requestID string) (*Env, error) {
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
		var lerr *lambda.Error
		if errors.As(err, &lerr) {
			return nil, err
		}
		return nil, m.entrypointFailure(p, requestID, err.Error())
	}
	start := time.Now()
	e, err := m.launch(p, spec, initOnDemand)
	if errors.Is(err, ErrClosed) {
		return nil, err
	}
	if err != nil {
		return nil, m.entrypointFailure(p, requestID, unwrapStart(err))
	}
	// A start that queued for a set-up slot was not initializing yet:
	// Init Duration, and what is billed of it, leaves the queue out.
	start = start.Add(e.proc.SetupWait())
	phase := "init"
	err = m.waitInit(ctx, e, m.opts.InitTimeout, errInitTimeout)
	if errors.Is(err, errInitTimeout) {
		// Lambda's rule: an init that overruns its limit is retried as part
		// of the invocation, under the function's own timeout.
		m.forget(e)
		e.out.settle(50 * time.Millisecond)
		e.out.platform(fmt.Sprintf("INIT_REPORT Init Duration: %.2f ms\tPhase: init\tStatus: timeout", msSince(start)))
		e.out.endTail()
		phase, start = "invoke", time.Now()
		budget := time.Duration(p.fn.Timeout) * time.Second
		if e, err = m.launch(p, spec, initOnDemand); errors.Is(err, ErrClosed) {
			return nil, err
		} else if err != nil {
			return nil, m.entrypointFailure(p, requestID, unwrapStart(err))
		}
		start = start.Add(e.proc.SetupWait())
		err = m.waitInit(ctx, e, budget, errTimedOut)
		e.deadline = start.Add(budget)
	}
	if err == nil {
		e.initDuration = time.Since(start)
		e.out.endTail() // init output is in the stream, not in the first invoke's tail
		return e, nil
	}
	fail := &InitFailure{Duration: time.Since(start)}
	var ie *runtimeapi.InitError
	switch {
	case errors.As(err, &ie):
		fail.ErrorType, fail.Payload = ie.ErrorType, ie.Payload
		if fail.ErrorType == "" {
			fail.ErrorType = "Runtime.Unknown"
		}
	case errors.Is(err, errTimedOut):
		fail.ErrorType = "Sandbox.Timedout"
		fail.Payload = e.timedOut(requestID, time.Duration(p.fn.Timeout)*time.Second)
	case errors.Is(err, ErrRuntimeExited):
		e.kill()
		fail.ErrorType = "Runtime.ExitError"
		fail.Payload = runtimeapi.PlatformError(fail.ErrorType, requestID, "Runtime exited with error: "+exitText(e))
	default: // ctx ended: the caller gave up or the server is stopping
		m.forget(e)
		return nil, err
	}
	memMB := e.proc.SampleMemory() >> 20 // before the tree is gone
	m.forget(e)
	e.out.settle(50 * time.Millisecond)
	logInitFailure(e.out, p.fn, requestID, phase, fail, memMB, start, m.opts.Observers)
	return nil, fail
}

// waitInit waits at most limit for e's init; past it the error is cause.
func (m *Manager) waitInit(ctx context.Context, e *Env, limit time.Duration, cause error) error {
	ictx, cancel := context.WithTimeoutCause(ctx, limit, cause)
	defer cancel()
	return e.waitInit(ictx)
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// entrypointFailure is the InitFailure of a runtime that could not be
// started at all. Its log lines go to a stream of their own, as no
// environment was made.
func (m *Manager) entrypointFailure(p *pool, requestID, text string) *InitFailure {
	const t = "Runtime.InvalidEntrypoint"
	fail := &InitFailure{ErrorType: t, Payload: runtimeapi.PlatformError(t, requestID, text)}
	out := newFunctionOutput(nil, m.opts.Logs, p.fn.Logging, newStreamName(p.fn.Version, time.Now()))
	out.beginTail()
	out.platform("RequestId: " + requestID + " Error: " + text)
	logInitFailure(out, p.fn, requestID, "init", fail, 0, time.Now(), m.opts.Observers)
	return fail
}

// logInitFailure writes the platform lines of a failed init (INIT_REPORT,
// START, END, REPORT), tells observers of the REPORT and sets fail.Log to
// the tail. phase is "init", or "invoke" for an init retried inside the
// invocation; began is when the failed init began.
func logInitFailure(out *output, fn *lambda.Function, requestID, phase string, fail *InitFailure, memMB int64, began time.Time, observers []Observer) {
	status := "error\tError Type: " + fail.ErrorType
	if fail.ErrorType == "Sandbox.Timedout" {
		status = "timeout"
	}
	initMs := float64(fail.Duration.Microseconds()) / 1000
	out.platform(fmt.Sprintf("INIT_REPORT Init Duration: %.2f ms\tPhase: %s\tStatus: %s", initMs, phase, status))
	out.platform("START RequestId: " + requestID + " Version: " + fn.Version)
	out.platform("END RequestId: " + requestID)
	// The REPORT's Duration is the failed init's: it is all there is to bill.
	billed := billedMs(fail.Duration, 0)
	out.platform(fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\tStatus: %s",
		requestID, initMs, billed, fn.MemorySize, max(memMB, 1), status))
	fail.Log = out.endTail()
	observeInvoked(observers, Invocation{
		Function: fn.Name, Version: fn.Version, RequestID: requestID,
		Start: began, Duration: fail.Duration, InitDuration: fail.Duration, BilledMs: billed,
		MemoryMB: fn.MemorySize, MaxMemoryMB: max(memMB, 1),
		ErrorType: fail.ErrorType, FunctionError: true,
		Architecture: architecture(fn), InitType: initOnDemand,
	})
}

var errInitTimeout = errors.New("init timed out")

// Release returns an environment after its invocation. Broken or stale
// environments are stopped; healthy ones go back to the idle stack.
func (m *Manager) Release(e *Env) {
	m.mu.Lock()
	p := e.pool
	m.freeSlot(p.key.name)
	// A runtime may exit right after answering (aws-lambda-go does after a
	// panic): such an environment must not go back to the idle stack.
	if e.broken.Load() || e.exited.Err() != nil || p.stale || m.closed || !m.keepProvisioned(e) {
		p.total--
		m.dropIfEmpty(p)
		m.mu.Unlock()
		// The invoker's answer does not wait for the teardown; Close
		// waits for it.
		m.forgetting.Add(1)
		go func() {
			defer m.forgetting.Done()
			m.forget(e)
		}()
		return
	}
	e.lastUsed = time.Now()
	p.idle = append(p.idle, e)
	m.mu.Unlock()
}

// dropExited removes an environment whose process exited from its pool's
// idle stack, so it is never handed out. Busy and starting environments
// are left to Release and coldStart. It runs after e.exited is cancelled,
// so an environment Release puts back later is seen exited there.
func (m *Manager) dropExited(e *Env) {
	m.mu.Lock()
	p := e.pool
	i := slices.Index(p.idle, e)
	if i >= 0 {
		p.idle = slices.Delete(p.idle, i, i+1)
		p.total--
		m.dropIfEmpty(p)
	}
	m.mu.Unlock()
	if i >= 0 {
		m.forget(e)
	}
}

func (m *Manager) forgetAll(envs []*Env) {
	for _, e := range envs {
		m.forget(e)
	}
}

// forget kills an environment and drops it from the live set.
func (m *Manager) forget(e *Env) {
	e.kill()
	m.mu.Lock()
	delete(m.envs, e)
	m.lostProvisioned(e)
	m.mu.Unlock()
}

// dropIfEmpty forgets a pool with no environments. Callers hold m.mu.
func (m *Manager) dropIfEmpty(p *pool) {
	if p.total == 0 && m.pools[p.key] == p {
		delete(m.pools, p.key)
	}
}

// Invalidate stops the idle environments of the named function whose
// version and revision are not in live (version → RevisionId), and marks
// their pools stale, so busy ones stop on release. Call it whenever a
// function's stored state changes, with the revisions of its $LATEST and
// published versions: environments already running one of them stay warm,
// however late the news arrives. live == nil (the function was deleted)
// stops them all.
func (m *Manager) Invalidate(name string, live map[string]string) {
	m.mu.Lock()
	victims := m.invalidateProvisioned(name, live)
	for k, p := range m.pools {
		if k.name != name || (live != nil && live[k.version] == k.revision) {
			continue
		}
		p.stale = true
		victims = append(victims, p.idle...)
		p.total -= len(p.idle)
		p.idle = nil
		delete(m.pools, k)
	}
	m.mu.Unlock()
	for _, e := range victims {
		m.forget(e)
	}
}

// Stats is a snapshot of the manager's accounting.
type Stats struct {
	Busy  int // invocations holding an environment
	Idle  int // warm environments waiting for work
	Total int // live environment processes, including ones being started or stopped
}

// Stats returns the current counts across all pools.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{Busy: m.busy, Total: len(m.envs)}
	for _, p := range m.pools {
		s.Idle += len(p.idle)
	}
	return s
}

// reap stops environments idle longer than IdleTimeout.
func (m *Manager) reap() {
	defer m.wg.Done()
	every := min(max(m.opts.IdleTimeout/4, 10*time.Millisecond), 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case now := <-t.C:
			var victims []*Env
			m.mu.Lock()
			for _, p := range m.pools {
				keep := p.idle[:0]
				for _, e := range p.idle {
					idle := e.provisioned == nil && now.Sub(e.lastUsed) >= m.opts.IdleTimeout
					if idle || !e.usable(now) { // a provisioned one is replaced
						victims = append(victims, e)
						p.total--
					} else {
						keep = append(keep, e)
					}
				}
				clear(p.idle[len(keep):])
				p.idle = keep
				m.dropIfEmpty(p)
			}
			for k, f := range m.failures {
				if now.Sub(f.last) > failureMemory {
					delete(m.failures, k)
				}
			}
			m.mu.Unlock()
			for _, e := range victims {
				m.forget(e)
			}
		}
	}
}

// Close stops accepting acquisitions, waits for busy environments to be
// released until ctx ends, then stops every environment.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	close(m.stop)
	m.prov.cancel() // provisioned inits in flight give up
	m.wg.Wait()

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		m.mu.Lock()
		busy := m.busy
		m.mu.Unlock()
		if busy == 0 {
			break
		}
		select {
		case <-ctx.Done():
			m.killAll()
			m.forgetting.Wait()
			return fmt.Errorf("envpool close: %d invocations still running: %w", busy, context.Cause(ctx))
		case <-tick.C:
		}
	}
	m.killAll()
	m.forgetting.Wait()
	return nil
}

// killAll stops every live environment, busy ones included.
func (m *Manager) killAll() {
	m.mu.Lock()
	victims := make([]*Env, 0, len(m.envs))
	for e := range m.envs {
		victims = append(victims, e)
	}
	for k, p := range m.pools {
		p.idle = nil
		p.stale = true
		delete(m.pools, k)
	}
	m.mu.Unlock()
	for _, e := range victims {
		m.forget(e)
	}
}

// unwrapStart reduces a process start error to what Lambda shows, e.g.
// "fork/exec /var/task/bootstrap: no such file or directory".
func unwrapStart(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + " " + pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

// exitText describes how an exited environment's process ended.
func exitText(e *Env) string {
	<-e.proc.Done()
	return sandbox.ExitDescription(e.proc.Err())
}
