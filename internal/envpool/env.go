package envpool

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"gust/internal/lambda"
	"gust/internal/runtimeapi"
	"gust/internal/sandbox"
	"gust/internal/tracing"
)

// Env is one execution environment: a runtime process tree, its private
// Runtime API server, and its log stream. It serves one invocation at a
// time. An Env that failed (timeout, crash) is never reused.
type Env struct {
	fn     *lambda.Function
	pool   *pool
	stream string
	proc   *sandbox.Process
	rapi   *runtimeapi.Server
	out    *output

	// exited is cancelled, with the process's exit as cause, when the
	// runtime process exits.
	exited context.Context

	initDuration time.Duration // set on a cold start, cleared by the first invoke
	// deadline, when set, ends the first invocation instead of its own
	// timeout: an init retried inside the invocation used part of it.
	deadline time.Time
	cold     bool
	lastUsed time.Time // guarded by the pool's manager mutex
	broken   atomic.Bool
	// provisioned is the provisioned-concurrency config this environment
	// was started for, nil for an on-demand one; guarded by the manager's
	// mutex (see provisioned.go).
	provisioned *provisionedSet
	// retireAt, when set, is when the environment stops taking
	// invocations, ahead of LaunchSpec.Expires (see retireTime).
	retireAt time.Time
	// initType and observers are for the Invocation each REPORT line
	// makes (observer.go).
	initType  string
	observers []Observer
}

// credentialMargin is how long before LaunchSpec.Expires an environment
// retires: a function that reads its credentials at the start of an
// invocation keeps them valid for at least this long (Lambda's longest
// invocation is 15 minutes).
const credentialMargin = 30 * time.Minute

// retireTime is when an environment started at now whose launch expires
// at expires (zero: never) must stop taking invocations: credentialMargin
// before, or half-way for a lifetime shorter than twice the margin.
func retireTime(expires, now time.Time) time.Time {
	if expires.IsZero() {
		return time.Time{}
	}
	return expires.Add(-min(credentialMargin, expires.Sub(now)/2))
}

// usable reports whether an idle environment may take an invocation: its
// process runs and it has not reached its retirement.
func (e *Env) usable(now time.Time) bool {
	return e.exited.Err() == nil && (e.retireAt.IsZero() || now.Before(e.retireAt))
}

// AWS_LAMBDA_INITIALIZATION_TYPE of on-demand and provisioned environments.
const (
	initOnDemand    = "on-demand"
	initProvisioned = "provisioned-concurrency"
)

// ErrRuntimeExited is the cause used when an environment's process exits.
var ErrRuntimeExited = errors.New("runtime exited")

// newStreamName makes a Lambda-style stream name: YYYY/MM/DD/[version]<32 hex>.
func newStreamName(version string, now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("2006/01/02") + "/[" + version + "]" + hex.EncodeToString(b[:])
}

// launch starts an environment's process and Runtime API but does not wait
// for init. initType is initOnDemand or initProvisioned.
func (m *Manager) launch(p *pool, spec LaunchSpec, initType string) (*Env, error) {
	fn := p.fn
	e := &Env{fn: fn, pool: p, stream: newStreamName(fn.Version, time.Now()), cold: true,
		retireAt: retireTime(spec.Expires, time.Now()), initType: initType, observers: m.opts.Observers}
	e.rapi = runtimeapi.New(runtimeapi.Options{Logger: m.logger})
	env := lambdaEnv(fn, m.opts.Identity, e.stream, spec, initType)
	// The sandbox makes the Runtime API listener where only this env's
	// runtime reaches it, and sets AWS_LAMBDA_RUNTIME_API to it.
	proc, err := m.opts.Shells.Start(sandbox.Spec{
		Argv: spec.Argv, Dir: spec.Dir, Env: env,
		RuntimeAPI: func(ln net.Listener) { e.rapi.Serve(ln) },
		Kind:       sandbox.Kind(m.opts.Sandbox),
		CodeDir:    spec.Dir, RuntimeDir: spec.RuntimeDir,
		MemoryMB: fn.MemorySize, TmpMB: fn.EphemeralStorage,
	})
	if err != nil {
		e.rapi.Close()
		return nil, err
	}
	e.proc = proc
	e.out = newFunctionOutput(proc.Output, m.opts.Logs, fn.Logging, e.stream)
	e.out.beginTail() // init output, reported if init fails
	go e.out.run()
	exited, cancel := context.WithCancelCause(context.Background())
	e.exited = exited
	m.mu.Lock()
	closed := m.closed
	if !closed {
		m.envs[e] = struct{}{}
	}
	m.mu.Unlock()
	if closed { // Close ran while this one was being prepared
		e.kill()
		cancel(ErrClosed)
		return nil, ErrClosed
	}
	go func() {
		<-proc.Done()
		cancel(fmt.Errorf("%w: %s", ErrRuntimeExited, sandbox.ExitDescription(proc.Err())))
		m.dropExited(e)
	}()
	return e, nil
}

// baseEnv is the start of every environment Lambda gives a runtime.
func baseEnv(spec LaunchSpec) []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		// Lambda's search path, with the task and runtime dirs where this
		// sandbox has them rather than at /var/task and /var/runtime.
		"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:" + spec.RuntimeDir + ":" + spec.RuntimeDir + "/lib:" + spec.Dir + ":" + spec.Dir + "/lib:/opt/lib",
	}
}

// StemSpec is the sandbox spec of a stem cell (sandbox.Stem) for a
// runtime launched as spec: what an environment of it starts with before
// any function's own configuration. spec.Dir stands for the code.
func StemSpec(kind string, spec LaunchSpec) sandbox.Spec {
	return sandbox.Spec{
		Argv: spec.Argv, Dir: spec.Dir, Env: append(baseEnv(spec), spec.Env...),
		Kind: sandbox.Kind(kind), CodeDir: spec.Dir, RuntimeDir: spec.RuntimeDir,
	}
}

// lambdaEnv is the process environment Lambda gives a runtime (§4.4),
// except AWS_LAMBDA_RUNTIME_API, which the sandbox sets.
func lambdaEnv(fn *lambda.Function, id lambda.Identity, stream string, spec LaunchSpec, initType string) []string {
	env := make([]string, 0, 24+len(fn.Environment)+len(spec.Env))
	env = append(env, baseEnv(spec)...)
	// In key order: every environment of a function gets the same block.
	for _, k := range slices.Sorted(maps.Keys(fn.Environment)) {
		env = append(env, k+"="+fn.Environment[k])
	}
	env = append(env, spec.Env...)
	env = append(env,
		"_HANDLER="+fn.Handler,
		"AWS_LAMBDA_FUNCTION_NAME="+fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION="+fn.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(fn.MemorySize),
		"AWS_LAMBDA_LOG_GROUP_NAME="+fn.Logging.LogGroup,
		"AWS_LAMBDA_LOG_STREAM_NAME="+stream,
		"AWS_LAMBDA_INITIALIZATION_TYPE="+initType,
		"AWS_REGION="+id.Region,
		"AWS_DEFAULT_REGION="+id.Region,
		"LAMBDA_TASK_ROOT="+spec.Dir,
		"LAMBDA_RUNTIME_DIR="+spec.RuntimeDir,
		"AWS_XRAY_CONTEXT_MISSING=LOG_ERROR",
	)
	if ee := lambda.ExecutionEnv(fn.Runtime); ee != "" {
		env = append(env, "AWS_EXECUTION_ENV="+ee)
	}
	if fn.Logging.LogFormat == lambda.LogFormatJSON {
		env = append(env, "AWS_LAMBDA_LOG_FORMAT=JSON")
		if fn.Logging.ApplicationLogLevel != "" {
			env = append(env, "AWS_LAMBDA_LOG_LEVEL="+fn.Logging.ApplicationLogLevel)
		}
	}
	return env
}

// waitInit waits for the runtime's first /next, for its init error, for
// its exit, or for ctx.
func (e *Env) waitInit(ctx context.Context) error {
	ctx, stop := mergeCancel(ctx, e.exited)
	defer stop()
	return e.rapi.WaitReady(ctx)
}

// Outcome is what one invocation produced.
type Outcome struct {
	Payload   []byte // result, or error JSON when FunctionError
	ErrorType string // "" on success
	Duration  time.Duration
	// InitDuration is non-zero on the invocation that followed a cold start.
	InitDuration time.Duration
	MaxMemoryMB  int64
	Log          []byte // the invocation's log tail (last 4 KB), START…REPORT
	// Undelivered reports that the runtime exited before it took the event
	// (some runtimes exit just after answering, e.g. after a panic): the
	// function never saw it, so it may run on another environment.
	Undelivered bool
}

// FunctionError reports whether the outcome is a function error.
func (o *Outcome) FunctionError() bool { return o.ErrorType != "" }

// Invoke runs one invocation in the environment. Function failures of any
// kind (handler error, timeout, crash, oversize response) are reported in
// the Outcome, never as an error; an error means the invocation could not
// be started at all. The timeout is taken from the function configuration
// and counted from now.
func (e *Env) Invoke(ctx context.Context, inv runtimeapi.Invocation, version string) Outcome {
	fn := e.fn
	if e.exited.Err() != nil {
		e.broken.Store(true)
		return Outcome{Undelivered: true}
	}
	// A first reading, so the peak is known even if the process dies
	// before the invocation ends (rate-limited: free on a busy warm env).
	e.proc.SampleMemory()
	timeout := time.Duration(fn.Timeout) * time.Second
	begun := time.Now()
	inv.Deadline = begun.Add(timeout)
	if !e.deadline.IsZero() {
		inv.Deadline, e.deadline = e.deadline, time.Time{}
	}
	e.out.beginTail()
	// START is written when the runtime takes the event, so an event that
	// never reaches this runtime leaves no START behind in its stream.
	var (
		startOnce sync.Once
		startedAt time.Time // set once START is written; read after start() returns
	)
	start := func() {
		startOnce.Do(func() {
			startedAt = time.Now()
			e.out.platform("START RequestId: " + inv.RequestID + " Version: " + version)
		})
	}
	inv.OnDeliver = start

	// The invocation outlives the caller's connection, as in Lambda: only
	// the deadline and the runtime's exit end it.
	ictx, cancel := context.WithDeadlineCause(context.WithoutCancel(ctx), inv.Deadline, errTimedOut)
	ictx, stop := mergeCancel(ictx, e.exited)
	res, err := e.rapi.Invoke(ictx, inv)
	stop()
	cancel()

	var o Outcome
	switch {
	case errors.Is(err, runtimeapi.ErrNotDelivered) && errors.Is(err, ErrRuntimeExited):
		e.broken.Store(true)
		e.out.endTail()
		return Outcome{Undelivered: true}
	}
	start() // a timeout may come before the runtime ever took the event
	switch {
	case err == nil:
		o.Payload, o.ErrorType = res.Payload, res.ErrorType
		o.Duration = res.Finished.Sub(res.Started)
		e.out.settle(50 * time.Millisecond)
	case errors.Is(err, errTimedOut):
		e.broken.Store(true)
		o.Duration = timeout
		o.ErrorType = "Sandbox.Timedout"
		o.Payload = e.timedOut(inv.RequestID, timeout)
		e.proc.SampleMemory() // while the tree is still there to read
		// Answer now; Release lets the teardown finish in the background.
		e.proc.StartKill()
	default:
		e.broken.Store(true)
		o.Duration = time.Since(begun)
		msg := "Runtime exited without providing a reason"
		if errors.Is(err, ErrRuntimeExited) {
			<-e.proc.Done()
			e.out.settle(50 * time.Millisecond)
			msg = "Runtime exited with error: " + sandbox.ExitDescription(e.proc.Err())
		}
		o.ErrorType = "Runtime.ExitError"
		if e.proc.OOMKilled() { // the linux sandbox's memory limit
			o.ErrorType = "Runtime.OutOfMemory"
		}
		o.Payload = runtimeapi.PlatformError(o.ErrorType, inv.RequestID, msg)
		e.out.platform("RequestId: " + inv.RequestID + " Error: " + msg)
		e.out.platform(o.ErrorType)
		e.proc.Kill()
	}
	if o.Duration > timeout {
		o.Duration = timeout
	}
	o.MaxMemoryMB = e.proc.SampleMemory() >> 20
	if e.cold {
		o.InitDuration = e.initDuration
		e.cold = false
	}
	e.out.platform("END RequestId: " + inv.RequestID)
	billed := billedMs(o.Duration, o.InitDuration)
	e.out.platform(formatReport(inv.RequestID, fn.MemorySize, o, billed))
	if line := tracing.XRayLine(inv.TraceID, fn.TracingMode == "Active"); line != "" {
		e.out.platform(line) // Lambda's line for a traced (Active, sampled) invocation
	}
	o.Log = e.out.endTail()
	observeInvoked(e.observers, Invocation{
		Function: fn.Name, Version: version, RequestID: inv.RequestID,
		Start: startedAt, Duration: o.Duration, InitDuration: o.InitDuration, BilledMs: billed,
		MemoryMB: fn.MemorySize, MaxMemoryMB: max(o.MaxMemoryMB, 1),
		ErrorType: o.ErrorType, FunctionError: o.FunctionError(),
		Architecture: architecture(fn), InitType: e.initType,
	})
	return o
}

var errTimedOut = errors.New("task timed out")

// timedOut writes Lambda's timeout line to the log and returns the error
// payload the invoker gets.
func (e *Env) timedOut(requestID string, timeout time.Duration) []byte {
	msg := fmt.Sprintf("Task timed out after %.2f seconds", timeout.Seconds())
	e.out.platform(time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " " + requestID + " " + msg)
	return runtimeapi.PlatformError("Sandbox.Timedout", requestID, msg)
}

// reportLine renders Lambda's REPORT line; billed duration is rounded up
// to the millisecond and includes init on cold starts.
func reportLine(requestID string, memoryMB int, o Outcome) string {
	return formatReport(requestID, memoryMB, o, billedMs(o.Duration, o.InitDuration))
}

// formatReport renders the REPORT line with billed as Billed Duration.
func formatReport(requestID string, memoryMB int, o Outcome, billed int64) string {
	dur := float64(o.Duration.Microseconds()) / 1000
	initMs := float64(o.InitDuration.Microseconds()) / 1000
	s := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t",
		requestID, dur, billed, memoryMB, max(o.MaxMemoryMB, 1))
	if o.InitDuration > 0 {
		s += fmt.Sprintf("Init Duration: %.2f ms\t", initMs)
	}
	switch o.ErrorType {
	case "":
	case "Sandbox.Timedout":
		s += "Status: timeout"
	case "Runtime.ExitError", "Runtime.OutOfMemory":
		s += "Status: error\tError Type: " + o.ErrorType
	}
	return s
}

func ceilMs(ms float64) float64 {
	c := float64(int64(ms))
	if c < ms {
		c++
	}
	if c < 1 {
		c = 1
	}
	return c
}

// kill stops the environment for good.
func (e *Env) kill() {
	e.broken.Store(true)
	if e.proc != nil {
		e.proc.Kill()
	}
	e.rapi.Close()
}

// mergeCancel returns a context that is also cancelled, with other's
// cause, when other is.
func mergeCancel(ctx, other context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(other, func() { cancel(context.Cause(other)) })
	return ctx, func() { stop(); cancel(nil) }
}
