package runtimeapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"gust/internal/lambda"
)

// Errors Invoke and WaitReady return when the server cannot take the call.
var (
	// ErrClosed: Close was called.
	ErrClosed = errors.New("runtime api closed")
	// ErrFailed: an earlier Invoke ended before its answer; the env must be
	// discarded.
	ErrFailed = errors.New("runtime api failed by an earlier invoke")
	// ErrBusy: another Invoke is running.
	ErrBusy = errors.New("runtime api busy with another invoke")
	// ErrNotReady: the runtime has not finished init (call WaitReady first).
	ErrNotReady = errors.New("runtime not ready")
	// ErrNotDelivered is wrapped into Invoke's error when its context
	// ended before the runtime took the event with /next: the function
	// never saw it, so it may be retried elsewhere.
	ErrNotDelivered = errors.New("event not delivered to the runtime")
)

// Options configure a Server.
type Options struct {
	// MaxResponseBytes caps the body of /response, /error and /init/error.
	// Default (0) lambda.MaxSyncResponseBytes (6291556). It applies to
	// streamed responses too, since Invoke returns the whole payload.
	MaxResponseBytes int
	// Logger receives debug lines for denied requests and warnings for
	// broken ones. Default: discard.
	Logger *slog.Logger
}

// readHeaderTimeout bounds how long a connection may take to send request
// headers. There is deliberately no write or read timeout: /next blocks
// for as long as the env waits for work.
const readHeaderTimeout = 10 * time.Second

// maxHeaderBytes bounds request headers; runtimes send a handful.
const maxHeaderBytes = 64 << 10

// idleConnTimeout closes a runtime's idle keep-alive connection; runtimes
// reconnect. A blocked /next is not idle.
const idleConnTimeout = 2 * time.Minute

// Server is the Runtime API of one execution environment.
type Server struct {
	log          *slog.Logger
	limit        int
	tooLarge     reply  // 413 to the runtime
	tooLargeBody []byte // result payload for the invoker
	http         *http.Server

	wake   chan struct{} // capacity 1: Invoke → the waiting /next
	done   chan struct{} // capacity 1: answer → the waiting Invoke
	ready  chan struct{} // closed when init ends (first /next or init error)
	closed chan struct{} // closed by Close

	mu        sync.Mutex
	st        state
	inv       Invocation // current event: queued, in flight or answered (Payload dropped once answered)
	res       Result     // its result so far
	invoking  bool       // an Invoke call is running
	answered  bool       // res holds the answer to inv
	answering bool       // a /response or /error body is being read
	initErr   *InitError
	addr      string
	serving   bool
	active    sync.WaitGroup // the accept loop and running handlers; Add only under mu while not closed
}

// New returns a Server in the Init state. It serves nothing until Serve.
func New(opts Options) *Server {
	limit := opts.MaxResponseBytes
	if limit <= 0 {
		limit = lambda.MaxSyncResponseBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "runtimeapi")
	s := &Server{
		log:          log,
		limit:        limit,
		tooLarge:     tooLargeReply(limit),
		tooLargeBody: tooLargeResult(limit),
		wake:         make(chan struct{}, 1),
		done:         make(chan struct{}, 1),
		ready:        make(chan struct{}),
		closed:       make(chan struct{}),
	}
	s.http = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleConnTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s
}

// Serve serves on ln in a goroutine owned by the Server and returns at
// once. Only the first call serves; a later call, or one after Close,
// closes ln.
func (s *Server) Serve(ln net.Listener) {
	s.mu.Lock()
	if s.serving || s.st == stateClosed {
		s.mu.Unlock()
		_ = ln.Close()
		s.log.Warn("serve called twice or after close; listener closed")
		return
	}
	s.serving = true
	s.addr = ln.Addr().String()
	ln = limitListener(ln, maxConns)
	s.active.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.active.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("serve runtime api", "err", err)
		}
	}()
}

// Addr is the listener's host:port, the value of AWS_LAMBDA_RUNTIME_API;
// "" before Serve.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close stops serving: it closes the listener and every connection,
// releases a blocked /next, Invoke or WaitReady, and waits for the accept
// loop and running handlers to return. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.st == stateClosed {
		s.mu.Unlock()
		return nil
	}
	s.fireLocked(eventClose) // every other state allows Close
	close(s.closed)
	s.mu.Unlock()
	err := s.http.Close()
	s.active.Wait()
	if err != nil {
		return fmt.Errorf("close runtime api: %w", err)
	}
	return nil
}

// enter registers a handler with Close; it returns false once closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == stateClosed {
		return false
	}
	s.active.Add(1)
	return true
}
