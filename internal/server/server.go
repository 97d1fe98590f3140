// Package server is Gust's composition root: it builds every component from
// a config.Server, starts them in order (all or nothing) and stops them in
// reverse.
//
// Start order: data dir and credentials, embedded NATS (or the external
// cluster), the function store, the IAM store (users, roles, keys), the
// log store, the runtime table and code cache, the usage meter, the
// environment pool, the invoke service, the EventBridge bus, then the HTTP
// listener (and the --metrics-listen one; the metrics registry is built
// before the pool), and last the bus's scheduler.
// Shutdown stops the listeners first (draining in-flight requests, and so
// in-flight invocations), then every environment, then the usage meter
// (storing the records still buffered), then the stores, and last the
// OpenTelemetry exporter of --otlp-endpoint (sending its buffered spans).
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gust/internal/api"
	"gust/internal/asyncq"
	"gust/internal/codecache"
	"gust/internal/config"
	"gust/internal/envpool"
	"gust/internal/esm"
	"gust/internal/eventbus"
	"gust/internal/funcurl"
	"gust/internal/iam"
	"gust/internal/invoke"
	"gust/internal/lambda"
	"gust/internal/logs"
	"gust/internal/metrics"
	"gust/internal/natsd"
	"gust/internal/pubsub"
	"gust/internal/runtimes"
	"gust/internal/s3events"
	"gust/internal/sandbox"
	"gust/internal/sigv4"
	"gust/internal/store"
	"gust/internal/tracing"
	"gust/internal/usage"
)

// Server is one running Gust node.
type Server struct {
	cfg    config.Server
	logger *slog.Logger
	creds  Credentials

	ready    atomic.Bool
	listener net.Listener
	http     *http.Server
	nats     *natsd.Conn
	store    *store.Store
	iam      *iam.Store
	launcher *launcher
	logs     *logs.Store
	pool     *envpool.Manager
	shells   *sandbox.Shells // nil unless the linux sandbox keeps shells
	invoker  *invoke.Service
	queue    *asyncq.Queue
	events   *eventbus.Bus
	esm      *esm.Service
	s3events *s3events.Service
	topics   *pubsub.Service
	metrics  *metrics.Registry
	meter    *usage.Meter
	tracer   *tracing.Tracer // nil unless --otlp-endpoint is set

	// metricsHTTP serves --metrics-listen; nil when it is off.
	metricsListener net.Listener
	metricsHTTP     *http.Server

	stopWatch context.CancelFunc
	closeOnce sync.Once
	closeErr  error
}

// New checks cfg and prepares a server; nothing starts until Start.
func New(cfg config.Server, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{cfg: cfg, logger: logger}, nil
}

// Start starts every component and the API listener. On error everything
// already started is stopped again.
func (s *Server) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = s.Shutdown(context.Background())
		}
	}()
	cfg := s.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("start server: data dir: %w", err)
	}
	if s.creds, err = loadCredentials(cfg); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	if err := probeSandbox(cfg.Sandbox, cfg.DataDir); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	id := lambda.Identity{Region: cfg.Region, Account: cfg.AccountID}

	if s.nats, err = natsd.Open(ctx, natsd.Options{DataDir: cfg.DataDir, Logger: s.logger}); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	if s.store, err = store.Open(ctx, s.nats.JS, store.Options{Logger: s.logger}); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	if s.iam, err = iam.Open(ctx, s.nats.JS, iam.Options{
		Account: cfg.AccountID,
		Admin:   iam.AccessKey{ID: s.creds.AccessKeyID, Secret: s.creds.SecretAccessKey},
		Logger:  s.logger,
	}); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	if s.logs, err = logs.Open(logs.Options{Dir: filepath.Join(cfg.DataDir, "logs"), MaxBytesPerGroup: cfg.LogRetentionBytes, MaxBytesTotal: cfg.LogBytesTotal,
		Region: cfg.Region, Account: cfg.AccountID, Logger: s.logger}); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	table, err := runtimes.New(runtimes.Options{Dir: filepath.Join(cfg.DataDir, "runtime"), NodePath: cfg.NodePath, PythonPath: cfg.PythonPath})
	if err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	code, err := codecache.New(filepath.Join(cfg.DataDir, "code"), s.logger)
	if err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	s.launcher = &launcher{store: s.store, code: code, runtimes: table, iam: s.iam}
	if s.meter, err = usage.Open(ctx, usage.Options{JS: s.nats.JS, Logger: s.logger}); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	s.metrics = metrics.New(metrics.Options{Functions: s.store, JetStream: s.nats.JS, Logger: s.logger})
	if cfg.Sandbox == string(sandbox.KindLinux) && (cfg.SandboxShells > 0 || cfg.StemCells > 0) {
		code, err := filepath.Abs(filepath.Join(cfg.DataDir, "code"))
		if err != nil {
			return fmt.Errorf("start server: %w", err)
		}
		s.shells = sandbox.NewShells(sandbox.ShellsOptions{Size: cfg.SandboxShells, RuntimeDir: table.RuntimeDir(),
			Stems: s.launcher.stems(cfg.Sandbox, cfg.StemCells, code), Logger: s.logger})
	}
	s.pool = envpool.New(envpool.Options{
		Identity:       id,
		Launcher:       s.launcher,
		Logs:           logWriter{s.logs},
		Logger:         s.logger,
		MaxConcurrency: cfg.MaxConcurrency,
		IdleTimeout:    cfg.IdleTimeout,
		InitTimeout:    cfg.InitTimeout,
		Sandbox:        cfg.Sandbox,
		Shells:         s.shells,
		Observers:      []envpool.Observer{s.meter, s.metrics},
	})
	reserved, err := s.store.ListConcurrency(ctx)
	if err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	for name, n := range reserved {
		s.pool.SetReserved(name, n)
	}
	s.invoker = invoke.New(id, s.store, s.metrics.TrackPool(s.pool), s.logger)
	if cfg.OTLPEndpoint != "" {
		if s.tracer, err = tracing.New(ctx, tracing.Options{Endpoint: cfg.OTLPEndpoint, Region: cfg.Region}); err != nil {
			return fmt.Errorf("start server: %w", err)
		}
		s.invoker.UseTracer(s.tracer)
	}
	if s.queue, err = asyncq.Open(ctx, asyncq.Options{
		JS:           s.nats.JS,
		Identity:     id,
		Invoker:      s.invoker,
		Settings:     asyncSettings{store: s.store, pool: s.pool},
		Logger:       s.logger,
		RetryBase:    cfg.AsyncRetryBase,
		ThrottleBase: cfg.AsyncThrottleBase,
		AckWait:      cfg.AsyncAckWait,
		Concurrency:  cfg.AsyncConcurrency,
	}); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	s.invoker.UseQueue(s.queue)
	// EventBridge delivers through the invoke service's Event path, so the
	// async queue applies retries and destinations.
	if s.events, err = eventbus.Open(ctx, eventbus.Options{JS: s.nats.JS, Identity: id, Invoker: s.invoker,
		Clock: cfg.EventsClock, Logger: s.logger}); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	s.metrics.UseAsyncQueue(asyncMetrics{s.queue})
	// Event source mappings invoke synchronously, as Lambda's pollers do.
	if s.esm, err = esm.Open(ctx, esm.Options{JS: s.nats.JS, Identity: id, Invoker: s.invoker,
		Functions: s.store, Failures: s.queue, NodeID: nodeID(cfg.DataDir), Logger: s.logger}); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	// Object-store notifications and pub/sub topics deliver through the
	// invoke service's Event path, so the async queue applies retries and
	// destinations.
	if s.s3events, err = s3events.Open(ctx, s3events.Options{JS: s.nats.JS, Identity: id, Invoker: s.invoker,
		Policies: s.store, Logger: s.logger}); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	if s.topics, err = pubsub.Open(ctx, pubsub.Options{JS: s.nats.JS, Identity: id, Invoker: s.invoker,
		Policies: s.store, NodeID: nodeID(cfg.DataDir), Logger: s.logger}); err != nil {
		return fmt.Errorf("start server: %w", err)
	}

	// Other nodes sharing the store change functions too: drop what is
	// cached or warm for a function whenever its stored state changes.
	watchCtx, stopWatch := context.WithCancel(context.Background())
	s.stopWatch = stopWatch
	if err := s.store.Watch(watchCtx, func(name string) {
		s.invoker.Forget(name)
		live, err := s.store.LiveRevisions(watchCtx, name)
		if err == nil && len(live) == 0 {
			// Lambda discards the queued events of a deleted function.
			if err := s.queue.Forget(watchCtx, name); err != nil {
				s.logger.Warn("drop async queue of deleted function", "function", name, "err", err)
			}
		}
		if len(live) == 0 { // deleted, or unreadable: stop them all
			live = nil
		}
		s.pool.Invalidate(name, live)
		// Reserved concurrency, set or cleared here or on another node.
		// Read and applied as one step, ordered with the API's writes:
		// a read from before a change here never undoes it.
		_ = s.pool.UpdateReserved(name, func() (int, bool, error) {
			n, ok, err := s.store.GetConcurrency(watchCtx, name)
			if errors.Is(err, store.ErrNotFound) {
				return 0, false, nil
			}
			return n, ok, err
		})
		s.applyProvisioned(watchCtx, name)
	}); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	s.applyAllProvisioned(ctx) // after the watch, so no change falls between

	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	urls := funcurl.New(funcurl.Options{Identity: id, Store: s.store, Invoker: s.invoker,
		Verifier: &sigv4.Verifier{Secret: s.secret}, IAM: s.iam, Logger: s.logger})
	handler := api.New(api.Options{
		Identity:            id,
		Store:               s.store,
		Invoker:             s.invoker,
		Async:               s.queue,
		Usage:               s.meter,
		Environments:        s.pool,
		Verifier:            &sigv4.Verifier{Secret: s.secret},
		IAM:                 s.iam,
		Logs:                s.logs.Handler(),
		Events:              s.events.Handler(),
		EventSourceMappings: s.esm,
		Sources:             s.esm,
		S3Events:            s.s3events,
		Topics:              s.topics,
		Metrics:             s.metrics.Handler(),
		FunctionURLs:        urls,
		Ready:               s.ready.Load,
		Logger:              s.logger,
		CodeURLSecret:       secret,
		MaxConcurrency:      cfg.MaxConcurrency,
	})
	if s.listener, err = net.Listen("tcp", cfg.Listen); err != nil {
		return fmt.Errorf("start server: listen: %w", err)
	}
	s.launcher.setEndpoint(s.listener.Addr())
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := s.http.Serve(s.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("api listener stopped", "err", err)
		}
	}()
	if err := s.startMetricsListener(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	// Schedules fire only once the API that manages them is up.
	if err := s.events.Start(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	if err := s.esm.Start(ctx); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	if err := s.topics.Start(ctx); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	if !cfg.DeferReady {
		s.ready.Store(true)
	}
	s.logger.Info("gust started", "endpoint", s.Endpoint(), "data", cfg.DataDir)
	return nil
}

// MarkReady makes /healthz answer 200, for a server started with
// config.Server.DeferReady once its caller has done what clients need
// first (the gust command writes server.json, which they read to find it).
func (s *Server) MarkReady() { s.ready.Store(true) }

// Endpoint is the API base URL, e.g. http://127.0.0.1:9001.
func (s *Server) Endpoint() string {
	if s.listener == nil {
		return ""
	}
	return "http://" + s.listener.Addr().String()
}

// Credentials are the access key pair clients sign with.
func (s *Server) Credentials() (accessKeyID, secretAccessKey string) {
	return s.creds.AccessKeyID, s.creds.SecretAccessKey
}

// secret is the Verifier's key table: the admin key, IAM users' keys and
// role sessions, all answered from the IAM store's memory.
func (s *Server) secret(accessKeyID, sessionToken string) (string, bool) {
	_, secret, ok := s.iam.Resolve(accessKeyID, sessionToken)
	return secret, ok
}

// IAM exposes users, roles and credentials, for tests.
func (s *Server) IAM() *iam.Store { return s.iam }

// Region is the region in every ARN and signature scope.
func (s *Server) Region() string { return s.cfg.Region }

// Pool exposes the environment manager's counts, for tests and metrics.
func (s *Server) Pool() *envpool.Manager { return s.pool }

// Shells exposes the sandbox shells kept ready (nil without), for tests
// and benchmarks.
func (s *Server) Shells() *sandbox.Shells { return s.shells }

// Async exposes the async invocation queue, for tests and metrics.
func (s *Server) Async() *asyncq.Queue { return s.queue }

// ESM returns the event source mapping service.
func (s *Server) ESM() *esm.Service { return s.esm }

// S3Events returns the object-store notification service.
func (s *Server) S3Events() *s3events.Service { return s.s3events }

// Topics returns the pub/sub fan-out service.
func (s *Server) Topics() *pubsub.Service { return s.topics }

// Usage exposes the usage meter, for tests.
func (s *Server) Usage() *usage.Meter { return s.meter }

// Shutdown stops accepting requests, drains in-flight invocations until ctx
// ends, stops every execution environment and closes the stores. It is
// safe to call more than once; later calls return the first result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.ready.Store(false)
		var errs []error
		if s.metricsHTTP != nil {
			_ = s.metricsHTTP.Close() // a scrape holds nothing worth draining
		}
		if s.http != nil {
			if err := s.http.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
				_ = s.http.Close()
			}
		}
		if s.stopWatch != nil {
			s.stopWatch()
		}
		if s.events != nil {
			// Before the queue: the scheduler enqueues into it.
			errs = append(errs, s.events.Close())
		}
		if s.topics != nil {
			if err := s.topics.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if s.s3events != nil {
			errs = append(errs, s.s3events.Close())
		}
		if s.esm != nil {
			// Batches being processed finish or go back to their broker.
			if err := s.esm.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if s.queue != nil {
			// Events still running when ctx ends are delivered again
			// after the next start.
			if err := s.queue.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if s.pool != nil {
			if err := s.pool.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		s.shells.Close()
		if s.meter != nil {
			// After the pool, so the last invocations' records are buffered;
			// a few seconds of its own, so a drain that used up ctx still
			// stores them.
			mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := s.meter.Close(mctx); err != nil {
				errs = append(errs, err)
			}
			cancel()
		}
		if s.logs != nil {
			errs = append(errs, s.logs.Close())
		}
		if s.iam != nil {
			s.iam.Close()
		}
		if s.store != nil {
			errs = append(errs, s.store.Close())
		}
		if s.nats != nil {
			errs = append(errs, s.nats.Close())
		}
		if s.tracer != nil {
			// Last, so the spans of invocations drained above are sent; a
			// few seconds of its own, as for the meter.
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			errs = append(errs, s.tracer.Shutdown(tctx))
			cancel()
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// startMetricsListener serves the metrics without authentication at
// GET /metrics on cfg.MetricsListen, when it is set, for Prometheus,
// which cannot sign requests.
func (s *Server) startMetricsListener() error {
	if s.cfg.MetricsListen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsListen)
	if err != nil {
		return fmt.Errorf("metrics listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	s.metricsListener = ln
	s.metricsHTTP = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := s.metricsHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("metrics listener stopped", "err", err)
		}
	}()
	s.logger.Info("serving metrics", "url", s.MetricsEndpoint())
	return nil
}

// MetricsEndpoint is the unauthenticated metrics URL, e.g.
// http://127.0.0.1:9464/metrics; "" unless --metrics-listen is set.
func (s *Server) MetricsEndpoint() string {
	if s.metricsListener == nil {
		return ""
	}
	return "http://" + s.metricsListener.Addr().String() + "/metrics"
}

// asyncMetrics reads the async queue for the metrics registry: asyncq and
// metrics share a layer, so neither imports the other.
type asyncMetrics struct{ q *asyncq.Queue }

func (a asyncMetrics) AsyncStats(ctx context.Context, function string) (metrics.AsyncStats, error) {
	st, err := a.q.Stats(ctx, function)
	return metrics.AsyncStats{
		Queued:                      st.Queued,
		InFlight:                    st.InFlight,
		OldestEventAge:              time.Duration(st.AsyncEventAge) * time.Millisecond,
		DeadLettered:                st.DeadLettered,
		DestinationDeliveryFailures: st.DestinationDeliveryFailures,
	}, err
}

// nodeID names this node stably across restarts: its host and data dir.
func nodeID(dataDir string) string {
	host, _ := os.Hostname()
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	sum := sha256.Sum256([]byte(abs))
	host = strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return '_'
	}, host)
	return host + "-" + hex.EncodeToString(sum[:6])
}
