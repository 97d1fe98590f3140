package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"gust/internal/asyncq"
	"gust/internal/iam"
	"gust/internal/invoke"
	"gust/internal/lambda"
	"gust/internal/sigv4"
)

// Store is the function and code storage the control plane needs.
type Store interface {
	CreateFunction(ctx context.Context, fn *lambda.Function) error
	GetFunction(ctx context.Context, name, version string) (*lambda.Function, error)
	UpdateFunction(ctx context.Context, name string, mutate func(fn *lambda.Function) error) (*lambda.Function, error)
	ListFunctions(ctx context.Context) ([]*lambda.Function, error)
	DeleteFunction(ctx context.Context, name string) error
	// LiveRevisions maps each existing version of name to its RevisionId
	// (empty when the function does not exist).
	LiveRevisions(ctx context.Context, name string) (map[string]string, error)
	PutCode(ctx context.Context, sha string, zip []byte) error
	GetCode(ctx context.Context, sha string) ([]byte, error)
	// Reserved concurrency (store.Store documents not-found and idempotence).
	PutConcurrency(ctx context.Context, name string, n int) error
	GetConcurrency(ctx context.Context, name string) (n int, ok bool, err error)
	DeleteConcurrency(ctx context.Context, name string) error
	ListConcurrency(ctx context.Context) (map[string]int, error)
	PutEventInvokeConfig(ctx context.Context, cfg *lambda.EventInvokeConfig) error
	UpdateEventInvokeConfig(ctx context.Context, name, qualifier string, mutate func(cfg *lambda.EventInvokeConfig) error) (*lambda.EventInvokeConfig, error)
	GetEventInvokeConfig(ctx context.Context, name, qualifier string) (*lambda.EventInvokeConfig, error)
	DeleteEventInvokeConfig(ctx context.Context, name, qualifier string) error
	ListEventInvokeConfigs(ctx context.Context, name string) ([]*lambda.EventInvokeConfig, error)
	// Each feature's storage is declared beside its handlers.
	VersionStore
	AliasStore
	ProvisionedStore
	PolicyStore
	TagStore
	FunctionURLStore
}

// Invoker runs invocations.
type Invoker interface {
	Invoke(ctx context.Context, req invoke.Request) (*invoke.Response, error)
	// Forget drops cached state of a function that changed.
	Forget(name string)
}

// AsyncQueue is the async invocation queue's state and dead-letter
// queues, for Gust's own endpoints.
type AsyncQueue interface {
	Stats(ctx context.Context, function string) (asyncq.Stats, error)
	DeadLetterQueues(ctx context.Context) ([]asyncq.QueueInfo, error)
	DeadLetters(ctx context.Context, queue string, limit int) ([]asyncq.DeadLetter, error)
	Redrive(ctx context.Context, queue, to string) (int, error)
}

// Environments is told when a function changes so that warm environments
// running old code or configuration stop.
type Environments interface {
	// Invalidate stops environments of name whose version and revision
	// are not in live (version → RevisionId; nil = all of them).
	Invalidate(name string, live map[string]string)
	// UpdateReserved runs update (a write of a function's reserved
	// concurrency to the store) and applies its result to this node at
	// once, ordered with the store watch's own reads and applies.
	UpdateReserved(name string, update func() (n int, ok bool, err error)) error
	// SetProvisioned and ClearProvisioned apply a provisioned-concurrency
	// config (qualifier: the version or alias; fn: the version it runs)
	// to this node at once; ProvisionedStatus reports its environments
	// being started or initialised (allocated) and initialised (available).
	SetProvisioned(fn *lambda.Function, qualifier string, n int)
	ClearProvisioned(name, qualifier string)
	ProvisionedStatus(name, qualifier string) (allocated, available int)
}

// Options builds an API.
type Options struct {
	Identity     lambda.Identity
	Store        Store
	Invoker      Invoker
	Async        AsyncQueue
	Usage        UsageQuery // metered invocations for /_gust/v1/usage; nil: not metered
	Environments Environments
	Verifier     *sigv4.Verifier
	IAM          *iam.Store   // principals of verified keys; the users and roles of /_gust/v1/iam
	Logs         http.Handler // CloudWatch Logs JSON 1.1 API
	Events       http.Handler // EventBridge JSON 1.1 API (AWSEvents.*)
	// FunctionURLs serves function URL requests: hosts
	// <url-id>.lambda-url.<region>.localhost and paths /_gust/url/<url-id>/….
	// They bypass SigV4 here; the handler authenticates AWS_IAM URLs itself.
	FunctionURLs http.Handler
	Ready        func() bool // reports readiness for /healthz
	Logger       *slog.Logger
	// CodeURLSecret signs the short-lived code download links in
	// GetFunction's Code.Location.
	CodeURLSecret []byte
	// MaxConcurrency is reported by GetAccountSettings.
	MaxConcurrency int
	// Metrics serves Prometheus metrics at GET /_gust/v1/metrics (signed,
	// operation GustMetrics); nil answers that route with a 404.
	Metrics http.Handler
	// EventSourceMappings serves the event source mapping operations
	// (event_source_mapping.go); Sources serves /_gust/v1/sources
	// (gust_sources.go).
	EventSourceMappings EventSourceMappings
	Sources             Sources
	// S3Events serves bucket notifications (gust_s3.go); Topics serves
	// pub/sub topics (gust_topics.go).
	S3Events S3Events
	Topics   Topics
}

// API is the http.Handler for every Gust endpoint.
type API struct {
	opts   Options
	id     lambda.Identity
	mux    *http.ServeMux
	logger *slog.Logger

	reserveMu sync.Mutex // serialises reserved-concurrency writes; see function_concurrency.go
}

// New builds the API and its route table.
func New(opts Options) *API {
	a := &API{opts: opts, id: opts.Identity, mux: http.NewServeMux(),
		logger: opts.Logger.With("component", "api")}
	a.routes()
	return a
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.opts.FunctionURLs != nil && a.isFunctionURLRequest(r) {
		a.opts.FunctionURLs.ServeHTTP(w, r)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// isFunctionURLRequest reports whether r is for a function URL rather than
// an API: by its Host (<url-id>.lambda-url.<region>.localhost[:port]) or
// its path (/_gust/url/<url-id>/…).
func (a *API) isFunctionURLRequest(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/_gust/url/") {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.HasSuffix(strings.ToLower(host), ".lambda-url."+a.id.Region+".localhost")
}

// handlerFunc is a Lambda API operation: it gets the verified body and
// returns an error to render, or nil after writing its response.
type handlerFunc func(w http.ResponseWriter, r *http.Request, body []byte) error

// operation wraps an operation with request ids, body limits, SigV4
// verification for service, and error rendering.
func (a *API) operation(service, name string, maxBody int64, tooLarge func() error, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rid := uuid.NewString()
		w.Header().Set("x-amzn-RequestId", rid)
		// Key and clock first: an unknown caller never gets a body read.
		err := a.opts.Verifier.Precheck(r)
		var body []byte
		if err == nil {
			body, err = readBody(w, r, maxBody)
			if errors.Is(err, errTooLarge) {
				err = tooLarge()
				w.Header().Set("Connection", "close")
			}
		}
		if err == nil {
			err = a.authenticate(r, body, service)
		}
		if err == nil {
			err = a.authorize(r, body, service, name)
		}
		if err == nil {
			err = h(w, r, body)
		}
		if err != nil {
			a.writeError(w, service, rid, name, err)
		}
	}
}

var errTooLarge = errors.New("request body too large")

// bodyReadTimeout bounds how long a client may take to send a body, so a
// slow sender cannot hold a buffer forever. It covers the body only: the
// invocation that follows may take its full timeout.
const bodyReadTimeout = 5 * time.Minute

// readBody reads at most limit bytes of the body; more is errTooLarge. A
// declared length is read into a buffer of exactly that size; otherwise
// the buffer grows with what actually arrives, never on the client's word.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, err error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	defer func() {
		// After a failed read the deadline stays in the past: clearing it
		// would let net/http's drain of the unread body wait forever on a
		// stalled client.
		if err == nil {
			_ = rc.SetReadDeadline(time.Time{})
		} else {
			_ = rc.SetReadDeadline(time.Now())
		}
	}()
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, lambda.KindInvalidRequestContent.Errorf("Could not read request body: %v", err)
		}
		return body, nil
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, lambda.KindInvalidRequestContent.Errorf("Could not read request body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, errTooLarge
	}
	return body, nil
}

// authenticate verifies the request's SigV4 signature and its scope, and
// puts the caller's principal in r's context for callerFrom.
func (a *API) authenticate(r *http.Request, body []byte, service string) error {
	p, err := a.opts.Verifier.Verify(r, body)
	if err != nil {
		return err
	}
	if p.Service != service {
		return lambda.KindInvalidSignature.Errorf("Credential should be scoped to correct service: '%s'. ", service)
	}
	if p.Region != a.id.Region {
		return lambda.KindInvalidSignature.Errorf("Credential should be scoped to a valid region, not '%s'. ", p.Region)
	}
	if a.opts.IAM != nil {
		caller, _, ok := a.opts.IAM.Resolve(p.AccessKeyID, p.SessionToken)
		if !ok { // deleted or expired since Verify looked it up
			return lambda.KindUnrecognizedClient.Errorf("The security token included in the request is invalid.")
		}
		// Handlers get r itself, so the context is swapped in place.
		*r = *r.WithContext(context.WithValue(r.Context(), callerKey{}, caller))
	}
	return nil
}

// callerKey is the context key of the authenticated caller.
type callerKey struct{}

// callerFrom returns the principal that signed the request; the zero
// Principal (no rights at all) when none was resolved.
func callerFrom(ctx context.Context) iam.Principal {
	p, _ := ctx.Value(callerKey{}).(iam.Principal)
	return p
}

// errorBody is the JSON body of a Lambda error response.
type errorBody struct {
	Type    string `json:"Type"`
	Message string `json:"Message"`
	Reason  string `json:"Reason,omitempty"`
}

// writeError renders err as an AWS error response.
// Lambda (REST JSON) errors carry {"Type","Message"}; CloudWatch Logs
// (JSON 1.1) errors carry {"__type","message"}.
func (a *API) writeError(w http.ResponseWriter, service, rid, op string, err error) {
	e := lambda.AsError(err)
	if e.Kind == lambda.KindService {
		a.logger.Error("operation failed", "op", op, "request_id", rid, "err", err)
	} else {
		a.logger.Debug("operation rejected", "op", op, "request_id", rid, "code", e.Code, "message", e.Message)
	}
	h := w.Header()
	h.Set("X-Amzn-ErrorType", e.Code)
	if e.RetryAfterSeconds > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds))
	}
	if service == "logs" {
		h.Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(e.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(errorBody{Type: e.Type, Message: e.Message, Reason: e.Reason})
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// decodeJSON parses a request body into v. Unknown fields are ignored, as
// AWS does; malformed JSON is a SerializationException-style 400.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return lambda.KindInvalidParameterValue.Errorf("Value at '%s' has the wrong type: expected %s", te.Field, te.Type)
		}
		return lambda.KindInvalidRequestContent.Errorf("Could not parse request body into json: %v", err)
	}
	return nil
}
