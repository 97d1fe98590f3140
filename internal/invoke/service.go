package invoke

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"gust/internal/envpool"
	"gust/internal/lambda"
	"gust/internal/runtimeapi"
	"gust/internal/store"
	"gust/internal/tracing"
)

// Functions reads stored function versions.
type Functions interface {
	// GetFunction returns one version, or an error matching
	// store.ErrNotFound.
	GetFunction(ctx context.Context, name, version string) (*lambda.Function, error)
	// GetAlias returns one alias, or an error matching store.ErrNotFound.
	GetAlias(ctx context.Context, name, alias string) (*lambda.Alias, error)
}

// Pool hands out execution environments.
type Pool interface {
	Acquire(ctx context.Context, fn *lambda.Function, requestID string) (*envpool.Env, error)
	Release(e *envpool.Env)
}

// Queue durably accepts Event invocations; asyncq implements it.
type Queue interface {
	// Enqueue returns once ev is stored durably, or with an error.
	Enqueue(ctx context.Context, ev AsyncEvent) error
}

// AsyncEvent is an Event invocation accepted for the queue.
type AsyncEvent struct {
	Function   string // function name
	Qualifier  string // as invoked ("" = unqualified)
	InvokedARN string
	RequestID  string
	Payload    []byte
	TraceID    string // X-Amzn-Trace-Id as sent, "" if none
	// Hops counts the async invocations that led to this one (from the
	// trace header's Lineage), for recursive-loop detection.
	Hops int
}

// maxDeliveryAttempts bounds how often an event is offered to a fresh
// environment after the one it was queued on exited.
const maxDeliveryAttempts = 3

// Invocation types.
const (
	TypeRequestResponse = "RequestResponse"
	TypeEvent           = "Event"
	TypeDryRun          = "DryRun"
)

// Request is one Invoke call as it arrived.
type Request struct {
	FunctionName  string // name, name:qualifier, partial or full ARN
	Qualifier     string // the Qualifier query parameter
	Type          string // "" means RequestResponse
	LogType       string // "Tail" to return the log tail
	Payload       []byte
	ClientContext string // base64, as in X-Amz-Client-Context
	TraceID       string
	TenantID      string
	RequestID     string // "" = a new one
	// Enqueued is when an Event invocation run from the queue was first
	// accepted (its trace's queue-wait span starts there); zero for a
	// direct call.
	Enqueued time.Time
}

// Response is the answer to a Request.
type Response struct {
	StatusCode      int // 200, 202 or 204
	RequestID       string
	Payload         []byte
	FunctionError   string // "Unhandled" when the function failed
	ExecutedVersion string
	LogResult       string // base64 of the log tail, with LogType Tail
	// TraceID is the X-Ray header the runtime got, whose Parent is this
	// invocation's segment: what a destination it causes links to.
	TraceID string
}

// Service runs invocations.
type Service struct {
	id     lambda.Identity
	fns    Functions
	pool   Pool
	queue  Queue
	tracer *tracing.Tracer // nil: no OpenTelemetry export
	logger *slog.Logger

	mu      sync.RWMutex
	cache   map[string]map[string]*lambda.Function // name → version → config
	aliases map[string]map[string]*lambda.Alias    // name → alias
	// gen counts Forget calls. A config read from the store is cached only
	// if no Forget ran while it was being read, so a change that lands
	// mid-read can never leave the old config cached.
	gen uint64
}

// New builds a Service.
func New(id lambda.Identity, fns Functions, pool Pool, logger *slog.Logger) *Service {
	return &Service{id: id, fns: fns, pool: pool, logger: logger.With("component", "invoke"),
		cache: make(map[string]map[string]*lambda.Function), aliases: make(map[string]map[string]*lambda.Alias)}
}

// UseQueue makes Event invocations go to q. Until it is called they are
// refused with ServiceException. Call it before serving requests.
func (s *Service) UseQueue(q Queue) { s.queue = q }

// UseTracer exports a trace of every invocation through t. Call it before
// serving requests; without it nothing is recorded.
func (s *Service) UseTracer(t *tracing.Tracer) { s.tracer = t }

// Forget drops a function's cached configuration; call it whenever the
// function changes.
func (s *Service) Forget(name string) {
	s.mu.Lock()
	delete(s.cache, name)
	delete(s.aliases, name)
	s.gen++
	s.mu.Unlock()
}

// Resolve turns a FunctionName and Qualifier into the function version to
// run and the ARN as invoked.
func (s *Service) Resolve(ctx context.Context, name, qualifier string) (*lambda.Function, string, error) {
	ref, err := lambda.ParseFunctionRef(name)
	if err != nil {
		return nil, "", err
	}
	if qualifier != "" && ref.Qualifier != "" && qualifier != ref.Qualifier {
		return nil, "", lambda.KindInvalidParameterValue.Errorf("The derived qualifier from the function name does not match the specified qualifier.")
	}
	if ref.Qualifier == "" {
		ref.Qualifier = qualifier
	}
	if ref.Qualifier != "" && !lambda.ValidQualifier(ref.Qualifier) {
		return nil, "", lambda.KindInvalidParameterValue.Errorf("1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)", ref.Qualifier)
	}
	invoked := s.id.QualifiedARN(ref.Name, ref.Qualifier)
	if !s.id.Owns(ref) {
		return nil, "", lambda.FunctionNotFound(invoked)
	}
	version := ref.Qualifier
	if version == "" {
		version = lambda.LatestVersion
	}
	if !lambda.IsVersion(version) {
		alias, err := s.alias(ctx, ref.Name, version)
		if err != nil {
			return nil, "", err
		}
		if alias == nil {
			return nil, "", lambda.FunctionNotFound(invoked)
		}
		version = alias.Pick()
	}
	fn, err := s.version(ctx, ref.Name, version)
	if err != nil {
		return nil, "", err
	}
	if fn == nil {
		return nil, "", lambda.FunctionNotFound(invoked)
	}
	return fn, invoked, nil
}

// version returns one stored version through the cache; nil if it does
// not exist.
func (s *Service) version(ctx context.Context, name, version string) (*lambda.Function, error) {
	return cachedLookup(s, s.cache, name, version, func() (*lambda.Function, error) {
		return s.fns.GetFunction(ctx, name, version)
	})
}

// alias returns one alias through the cache; nil if it does not exist.
func (s *Service) alias(ctx context.Context, name, alias string) (*lambda.Alias, error) {
	return cachedLookup(s, s.aliases, name, alias, func() (*lambda.Alias, error) {
		return s.fns.GetAlias(ctx, name, alias)
	})
}

// cachedLookup returns cache[name][key], loading and caching it on a miss;
// nil if load finds nothing. A value is cached only if no Forget ran while
// it was loaded, so a change that lands mid-read never leaves the old
// value cached.
func cachedLookup[T any](s *Service, cache map[string]map[string]*T, name, key string, load func() (*T, error)) (*T, error) {
	s.mu.RLock()
	v, gen := cache[name][key], s.gen
	s.mu.RUnlock()
	if v != nil {
		return v, nil
	}
	v, err := load()
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.gen == gen {
		if cache[name] == nil {
			cache[name] = make(map[string]*T)
		}
		cache[name][key] = v
	}
	s.mu.Unlock()
	return v, nil
}

// Invoke runs one invocation. Function failures are a 200 Response with
// FunctionError set; errors are platform and validation failures, always
// *lambda.Error.
func (s *Service) Invoke(ctx context.Context, req Request) (*Response, error) {
	typ := req.Type
	if typ == "" {
		typ = TypeRequestResponse
	}
	switch typ {
	case TypeRequestResponse, TypeDryRun, TypeEvent:
	default:
		return nil, lambda.KindInvalidParameterValue.Errorf("1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", typ)
	}
	if req.LogType != "" && req.LogType != "None" && req.LogType != "Tail" {
		return nil, lambda.KindInvalidParameterValue.Errorf("1 validation error detected: Value '%s' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]", req.LogType)
	}
	if typ == TypeEvent && len(req.Payload) > lambda.MaxAsyncPayloadBytes {
		return nil, lambda.KindRequestEntityTooLarge.Errorf("%d byte payload is too large for the Event invocation type (limit %d bytes)", len(req.Payload), lambda.MaxAsyncPayloadBytes)
	}
	if len(req.Payload) > lambda.MaxSyncPayloadBytes {
		return nil, lambda.KindRequestEntityTooLarge.Errorf("Request must be smaller than %d bytes for the InvokeFunction operation", lambda.MaxSyncPayloadBytes)
	}
	payload := req.Payload
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = []byte("{}")
	} else if !json.Valid(payload) {
		return nil, lambda.KindInvalidRequestContent.Errorf("Could not parse request body into json: Could not parse payload into json: Unexpected character: was expecting a JSON value")
	}
	clientContext, err := decodeClientContext(req.ClientContext)
	if err != nil {
		return nil, err
	}
	fn, invoked, err := s.Resolve(ctx, req.FunctionName, req.Qualifier)
	if err != nil {
		return nil, err
	}
	requestID := req.RequestID
	if requestID == "" {
		requestID = uuid.NewString()
	}
	if typ == TypeDryRun {
		return &Response{StatusCode: http.StatusNoContent, RequestID: requestID}, nil
	}
	if typ == TypeEvent {
		return s.enqueue(ctx, fn, req, invoked, requestID, payload)
	}

	header, caller := tracing.ForInvocation(req.TraceID, fn.TracingMode == tracingActive, tracing.NewSpanID())
	resp := &Response{StatusCode: http.StatusOK, RequestID: requestID, ExecutedVersion: fn.Version, TraceID: header.String()}
	inv := runtimeapi.Invocation{
		RequestID:          requestID,
		Payload:            payload,
		InvokedFunctionARN: invoked,
		ClientContext:      clientContext,
		TraceID:            resp.TraceID,
		TenantID:           req.TenantID,
	}
	span := s.startTrace(ctx, fn, req, invoked, requestID, header, caller)
	var (
		out       envpool.Outcome
		coldStart bool
		errType   string // for the trace: function or platform error
	)
	defer func() { span.End(coldStart, errType) }()
	// An event the runtime never took (its process exited first) is run
	// again on another environment; the function saw it at most once.
	for range maxDeliveryAttempts {
		// A cold start, like the invocation, outlives the caller's
		// connection; the init timeout bounds it.
		acquireStart := time.Now()
		env, err := s.pool.Acquire(context.WithoutCancel(ctx), fn, requestID)
		acquired := time.Now()
		if err != nil {
			var fail *envpool.InitFailure
			if errors.As(err, &fail) {
				coldStart, errType = true, fail.ErrorType
				span.Acquired(acquireStart, acquired, fail.Duration, fail.ErrorType)
				resp.FunctionError = "Unhandled"
				resp.Payload = fail.Payload
				if req.LogType == "Tail" {
					resp.LogResult = base64.StdEncoding.EncodeToString(fail.Log)
				}
				return resp, nil
			}
			if errors.Is(err, envpool.ErrClosed) {
				err = lambda.KindServiceUnavailable.Errorf("Gust is shutting down.")
			}
			errType = errorCode(err)
			span.Acquired(acquireStart, acquired, 0, errType)
			return nil, err
		}
		out = env.Invoke(ctx, inv, fn.Version)
		s.pool.Release(env)
		coldStart = coldStart || out.InitDuration > 0
		span.Acquired(acquireStart, acquired, out.InitDuration, "")
		span.Invoked(acquired, time.Now(), undeliveredOr(out))
		if !out.Undelivered {
			break
		}
	}
	errType = undeliveredOr(out)
	if out.Undelivered {
		return nil, lambda.KindService.Errorf("The function's execution environments kept exiting before taking the event.")
	}
	resp.Payload = out.Payload
	if out.FunctionError() {
		resp.FunctionError = "Unhandled"
	}
	if req.LogType == "Tail" {
		resp.LogResult = base64.StdEncoding.EncodeToString(out.Log)
	}
	return resp, nil
}

// enqueue hands an Event invocation to the queue; 202 means it is stored.
func (s *Service) enqueue(ctx context.Context, fn *lambda.Function, req Request, invoked, requestID string, payload []byte) (*Response, error) {
	if s.queue == nil {
		return nil, lambda.KindService.Errorf("Asynchronous invocation is not configured on this server.")
	}
	qualifier := req.Qualifier
	if ref, err := lambda.ParseFunctionRef(req.FunctionName); err == nil && ref.Qualifier != "" {
		qualifier = ref.Qualifier
	}
	ev := AsyncEvent{
		Function:   fn.Name,
		Qualifier:  qualifier,
		InvokedARN: invoked,
		RequestID:  requestID,
		Payload:    payload,
		Hops:       LineageHops(req.TraceID),
	}
	// Every attempt keeps this header. Its Parent is the acceptance's own
	// segment, which the attempts link to.
	header, caller := tracing.ForInvocation(req.TraceID, fn.TracingMode == tracingActive, tracing.NewSpanID())
	ev.TraceID = header.String()
	span := s.tracer.StartEnqueue(ctx, tracing.InvocationInfo{Function: fn.Name, Version: fn.Version,
		RequestID: requestID, InvokedARN: invoked, Trigger: "http", Header: header, Caller: caller})
	if err := s.queue.Enqueue(ctx, ev); err != nil {
		span.End(false, errorCode(err))
		if errors.As(err, new(*lambda.Error)) {
			return nil, err
		}
		s.logger.Error("enqueue async event", "function", fn.Name, "requestId", requestID, "err", err)
		return nil, lambda.KindService.Errorf("The event could not be queued; it was not accepted.")
	}
	span.End(false, "")
	return &Response{StatusCode: http.StatusAccepted, RequestID: requestID}, nil
}

// decodeClientContext turns the base64 X-Amz-Client-Context header into
// the JSON text the runtime receives.
func decodeClientContext(b64 string) (string, error) {
	if b64 == "" {
		return "", nil
	}
	if len(b64) > lambda.MaxClientContextBytes {
		return "", lambda.KindInvalidParameterValue.Errorf("Client context must be at most %d bytes", lambda.MaxClientContextBytes)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !json.Valid(raw) {
		return "", lambda.KindInvalidRequestContent.Errorf("Client context must be a valid Base64-encoded JSON object.")
	}
	return string(raw), nil
}
