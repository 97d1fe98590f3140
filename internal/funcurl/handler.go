package funcurl

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"gust/internal/iam"
	"gust/internal/iam/policy"
	"gust/internal/invoke"
	"gust/internal/lambda"
	"gust/internal/sigv4"
	"gust/internal/store"
	"gust/internal/urlevent"
)

// Store resolves URL ids and reads resource policies.
type Store interface {
	// FunctionURLByID returns the config a URL id names, or an error
	// matching store.ErrNotFound.
	FunctionURLByID(ctx context.Context, id string) (*lambda.FunctionURL, error)
	// GetPolicy returns the resource policy of a function ("" qualifier)
	// or alias, or an error matching store.ErrNotFound when it has none.
	GetPolicy(ctx context.Context, name, qualifier string) (*policy.Document, string, error)
}

// Invoker runs invocations; invoke.Service implements it.
type Invoker interface {
	Invoke(ctx context.Context, req invoke.Request) (*invoke.Response, error)
}

// Options builds a Handler.
type Options struct {
	Identity lambda.Identity
	Store    Store
	Invoker  Invoker
	// Verifier checks the signatures of requests to AWS_IAM URLs.
	Verifier *sigv4.Verifier
	// IAM resolves a verified key to its principal and policies.
	IAM    *iam.Store
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body. Default
	// lambda.MaxSyncPayloadBytes (6 MB), as on AWS.
	MaxBodyBytes int64
	// BodyTimeout bounds how long a client may take to send its body.
	// Default 1 minute.
	BodyTimeout time.Duration
}

// Handler serves function URL requests. It is safe for concurrent use.
type Handler struct {
	opts   Options
	logger *slog.Logger
}

// New builds a Handler.
func New(opts Options) *Handler {
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = lambda.MaxSyncPayloadBytes
	}
	if opts.BodyTimeout == 0 {
		opts.BodyTimeout = time.Minute
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{opts: opts, logger: logger.With("component", "funcurl")}
}

// pathPrefix introduces the path form of a URL: /_gust/url/<id>/rest.
const pathPrefix = "/_gust/url/"

// target finds the URL id a request names and the path the function sees.
// The path form wins over the Host, so a URL is reachable through any
// address of the server.
func (h *Handler) target(r *http.Request) (id, path string, ok bool) {
	escaped := r.URL.EscapedPath()
	if rest, isPath := strings.CutPrefix(escaped, pathPrefix); isPath {
		id, path, _ = strings.Cut(rest, "/")
		return id, "/" + path, lambda.ValidURLID(id)
	}
	host := r.Host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	host = strings.ToLower(host)
	id, domain, _ := strings.Cut(host, ".")
	if domain != "lambda-url."+h.opts.Identity.Region+".localhost" {
		return "", "", false
	}
	if !strings.HasPrefix(escaped, "/") { // OPTIONS * and other oddities
		escaped = "/" + escaped
	}
	return id, escaped, lambda.ValidURLID(id)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	requestID := uuid.NewString()
	w.Header().Set("X-Amzn-RequestId", requestID)
	id, path, ok := h.target(r)
	if !ok {
		writeMessage(w, http.StatusNotFound, nil)
		return
	}
	ctx := r.Context()
	u, err := h.opts.Store.FunctionURLByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		writeMessage(w, http.StatusNotFound, nil)
		return
	}
	if err != nil {
		h.logger.Error("resolve function url", "url_id", id, "request_id", requestID, "err", err)
		writeMessage(w, http.StatusInternalServerError, msg("Internal Server Error"))
		return
	}
	log := h.logger.With("url_id", id, "function", u.Function, "qualifier", u.Qualifier, "request_id", requestID)
	if isPreflight(r, u.Cors) {
		preflight(w, r, u.Cors)
		return
	}
	body, status := h.readBody(w, r)
	if status != 0 {
		log.Debug("request body refused", "status", status)
		w.Header().Set("Connection", "close")
		writeMessage(w, status, msg(http.StatusText(status)))
		return
	}
	caller, err := h.authorize(r, body, u)
	if errors.Is(err, errPolicyLookup) {
		log.Error("authorize function url request", "err", err)
		writeMessage(w, http.StatusInternalServerError, msg("Internal Server Error"))
		return
	}
	if err != nil {
		log.Debug("function url request refused", "err", err)
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
		writeMessage(w, http.StatusForbidden, msg("Forbidden"))
		return
	}
	target := urlevent.Target{URLID: id, Region: h.opts.Identity.Region, AccountID: h.opts.Identity.Account, Host: r.Host, Path: path}
	event, err := urlevent.NewEvent(r, body, target, requestID, arrived, caller)
	if err != nil {
		log.Error("build function url event", "err", err)
		writeMessage(w, http.StatusInternalServerError, msg("Internal Server Error"))
		return
	}
	resp, err := h.opts.Invoker.Invoke(ctx, invoke.Request{
		FunctionName: u.Function,
		Qualifier:    u.Qualifier,
		Type:         invoke.TypeRequestResponse,
		Payload:      event,
		TraceID:      r.Header.Get("X-Amzn-Trace-Id"),
		RequestID:    requestID,
	})
	if err != nil {
		h.writeInvokeError(w, log, err)
		return
	}
	if resp.FunctionError != "" {
		log.Debug("function failed", "error", resp.FunctionError)
		writeMessage(w, http.StatusBadGateway, msg("Internal Server Error"))
		return
	}
	cw := &corsWriter{ResponseWriter: w, cors: u.Cors, origin: r.Header.Get("Origin")}
	if err := urlevent.WriteResponse(cw, resp.Payload); err != nil {
		if errors.Is(err, urlevent.ErrInvalidResponse) {
			log.Debug("function returned an invalid response", "err", err)
			writeMessage(w, http.StatusBadGateway, msg("Internal Server Error"))
			return
		}
		log.Debug("write function url response", "err", err) // the client went away
	}
}

// readBody reads the whole body within the body timeout. status is 0 on
// success, else the status to answer: 413 for a body over the limit
// (refused before reading when the length is declared), 408 for a client
// too slow to send it, 400 for a broken one.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int) {
	limit := h.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(h.opts.BodyTimeout))
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	var timeout net.Error
	switch {
	case err != nil:
		// After the handler, net/http reads what is left of a small body
		// to keep the connection; a broken or stalled client must not
		// hold it that way, so reads now fail at once.
		_ = rc.SetReadDeadline(time.Now())
		if errors.As(err, &timeout) && timeout.Timeout() {
			return nil, http.StatusRequestTimeout
		}
		return nil, http.StatusBadRequest
	case int64(len(body)) > limit:
		return nil, http.StatusRequestEntityTooLarge // the body deadline still bounds the rest
	}
	// The invocation may take longer than the body did.
	_ = rc.SetReadDeadline(time.Time{})
	return body, 0
}

// writeInvokeError answers a platform error of the invocation as a
// function URL does.
func (h *Handler) writeInvokeError(w http.ResponseWriter, log *slog.Logger, err error) {
	e := lambda.AsError(err)
	switch {
	case e.Code == lambda.KindTooManyRequests.Code:
		log.Debug("invocation throttled", "reason", e.Reason)
		if e.RetryAfterSeconds > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds))
		}
		writeMessage(w, http.StatusTooManyRequests, msg("Rate Exceeded."))
	case e.Code == lambda.KindRequestEntityTooLarge.Code:
		writeMessage(w, http.StatusRequestEntityTooLarge, msg("Request Entity Too Large"))
	case e.Code == lambda.KindResourceNotFound.Code:
		writeMessage(w, http.StatusNotFound, nil) // deleted meanwhile
	case e.Code == lambda.KindServiceUnavailable.Code:
		writeMessage(w, http.StatusServiceUnavailable, msg("Service Unavailable"))
	case e.Status == http.StatusBadGateway: // environment-creation failures
		log.Warn("invocation failed", "code", e.Code, "message", e.Message)
		writeMessage(w, http.StatusBadGateway, msg("Internal Server Error"))
	default:
		log.Error("invocation failed", "err", err)
		writeMessage(w, http.StatusInternalServerError, msg("Internal Server Error"))
	}
}

func msg(s string) *string { return &s }

// writeMessage writes a function URL's own answer: {"Message":…}, with
// null when message is nil, as for an unknown URL.
func writeMessage(w http.ResponseWriter, status int, message *string) {
	body := `{"Message":null}`
	if message != nil {
		body = `{"Message":"` + *message + `"}` // fixed texts: nothing to escape
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
