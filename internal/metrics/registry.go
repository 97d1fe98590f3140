package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gust/internal/envpool"
	"gust/internal/lambda"
)

// Functions is the function store as scrapes need it.
type Functions interface {
	// ListFunctions returns the $LATEST of every function; an empty list
	// is not an error. Functions missing from it lose their series.
	ListFunctions(ctx context.Context) ([]*lambda.Function, error)
	// GetAlias returns an alias, for the version a provisioned-concurrency
	// config of an alias runs. A missing alias is an error.
	GetAlias(ctx context.Context, name, alias string) (*lambda.Alias, error)
}

// JetStream reports the account's JetStream usage (jetstream.JetStream
// does).
type JetStream interface {
	AccountInfo(ctx context.Context) (*jetstream.AccountInfo, error)
}

// Options configures a Registry. Every source is optional: a nil one
// leaves its metrics out.
type Options struct {
	Functions Functions
	JetStream JetStream
	Logger    *slog.Logger
	// ScrapeTimeout bounds the reads one scrape makes. Default 5s.
	ScrapeTimeout time.Duration
}

// Registry is Gust's metrics. It implements envpool.Observer.
type Registry struct {
	opts   Options
	logger *slog.Logger
	reg    *prometheus.Registry

	invocations *prometheus.CounterVec
	errors      *prometheus.CounterVec
	throttles   *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	billed      *prometheus.CounterVec
	coldStarts  *prometheus.CounterVec
	initTime    *prometheus.HistogramVec

	// lastSeen maps a function name to the unix nanoseconds of its last
	// invocation or throttle (*atomic.Int64), so a scrape does not drop
	// a function created after its listing began.
	lastSeen sync.Map

	inflight inflight // see pool.go

	// sources are read by scrapes; set once before the handler serves.
	pool  atomic.Pointer[Pool]
	async atomic.Pointer[AsyncQueue]

	// scrapeMu serialises scrapes: each reads its sources into snap,
	// then gathers.
	scrapeMu sync.Mutex
	snap     snapshot
}

var _ envpool.Observer = (*Registry)(nil)

// Label names.
const (
	labelFunction  = "function"
	labelVersion   = "version"
	labelQualifier = "qualifier"
	labelType      = "type"
	labelReason    = "reason"
	labelState     = "state"
)

// Error types of gust_errors_total.
const (
	errorFunction = "function" // the handler answered with an error
	errorTimeout  = "timeout"  // Sandbox.Timedout
	errorRuntime  = "runtime"  // the runtime crashed, ran out of memory or could not load the handler
)

// runtimeFailures are the error types of an environment that failed rather
// than a handler that answered with an error. Every other type is the
// function's: a runtime reports a handler's exception under its own type
// only when it looks like Runtime.X or Function.X, and as Runtime.Unknown
// otherwise (runtimeapi.validErrorType), so Runtime.Unknown is usually a
// plain handler exception.
var runtimeFailures = map[string]bool{
	"Runtime.ExitError":                 true,
	"Runtime.OutOfMemory":               true,
	"Runtime.Crash":                     true,
	"Runtime.InvalidEntrypoint":         true,
	"Runtime.ImportModuleError":         true,
	"Runtime.HandlerNotFound":           true,
	"Runtime.MalformedHandlerName":      true,
	"Runtime.UserCodeSyntaxError":       true,
	"Runtime.TruncatedResponse":         true,
	"Runtime.InvalidResponseModeHeader": true,
}

// durationBuckets span Lambda's range, 1 ms to its 15-minute limit.
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900}

// initBuckets span runtime start-up, 5 ms to the 10 s init limit and
// an init retried inside a long invocation.
var initBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New builds a Registry. It starts no goroutines.
func New(opts Options) *Registry {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ScrapeTimeout <= 0 {
		opts.ScrapeTimeout = 5 * time.Second
	}
	fv := []string{labelFunction, labelVersion}
	r := &Registry{
		opts:   opts,
		logger: opts.Logger.With("component", "metrics"),
		reg:    prometheus.NewRegistry(),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gust_invocations_total",
			Help: "Invocations that ran (a REPORT line was written), including failed inits."}, fv),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gust_errors_total",
			Help: "Invocations that ended in an error, by type: function, timeout or runtime."}, append(fv, labelType)),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gust_throttles_total",
			Help: "Invocations refused with TooManyRequestsException, by reason."}, []string{labelFunction, labelReason}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gust_duration_seconds",
			Help: "Invoke-phase duration (REPORT Duration).", Buckets: durationBuckets}, fv),
		billed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gust_billed_duration_seconds_total",
			Help: "Billed duration (REPORT Billed Duration), init included."}, fv),
		coldStarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gust_cold_starts_total",
			Help: "Invocations that started a new on-demand environment, failed inits included."}, fv),
		initTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gust_init_duration_seconds",
			Help: "Init duration of cold starts (REPORT Init Duration).", Buckets: initBuckets}, fv),
	}
	r.reg.MustRegister(r.invocations, r.errors, r.throttles, r.duration, r.billed, r.coldStarts, r.initTime,
		scrapeCollector{r},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Invoked counts one REPORT line. It never blocks.
func (r *Registry) Invoked(inv envpool.Invocation) {
	r.seen(inv.Function)
	lv := []string{inv.Function, inv.Version}
	r.invocations.WithLabelValues(lv...).Inc()
	r.duration.WithLabelValues(lv...).Observe(inv.Duration.Seconds())
	r.billed.WithLabelValues(lv...).Add(float64(inv.BilledMs) / 1000)
	if inv.InitDuration > 0 {
		r.coldStarts.WithLabelValues(lv...).Inc()
		r.initTime.WithLabelValues(lv...).Observe(inv.InitDuration.Seconds())
	}
	if t := errorKind(inv.ErrorType); t != "" {
		r.errors.WithLabelValues(inv.Function, inv.Version, t).Inc()
	}
}

// Throttled counts one throttle. It never blocks.
func (r *Registry) Throttled(function, reason string) {
	r.seen(function)
	if reason == "" {
		reason = "Unknown"
	}
	r.throttles.WithLabelValues(function, reason).Inc()
}

// errorKind is the type label of an invocation's REPORT error type: ""
// (no error), errorTimeout, errorRuntime or errorFunction.
func errorKind(errorType string) string {
	switch {
	case errorType == "":
		return ""
	case errorType == "Sandbox.Timedout":
		return errorTimeout
	case runtimeFailures[errorType]:
		return errorRuntime
	default:
		return errorFunction
	}
}

func (r *Registry) seen(function string) {
	now := time.Now().UnixNano()
	if v, ok := r.lastSeen.Load(function); ok {
		v.(*atomic.Int64).Store(now)
		return
	}
	t := new(atomic.Int64)
	t.Store(now)
	if v, loaded := r.lastSeen.LoadOrStore(function, t); loaded {
		v.(*atomic.Int64).Store(now)
	}
}

// Handler serves the metrics in the format the scraper asks for (text or
// protobuf, gzip when accepted). Each request reads the scrape-time
// sources first, within the request's context and ScrapeTimeout.
func (r *Registry) Handler() http.Handler {
	serve := promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(r.logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), r.opts.ScrapeTimeout)
		defer cancel()
		r.scrapeMu.Lock()
		defer r.scrapeMu.Unlock()
		r.snap = r.read(ctx)
		serve.ServeHTTP(w, req)
	})
}

// forget drops every series of the named function.
func (r *Registry) forget(function string) {
	l := prometheus.Labels{labelFunction: function}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{r.invocations, r.errors, r.throttles, r.duration, r.billed, r.coldStarts, r.initTime} {
		v.DeletePartialMatch(l)
	}
	r.inflight.forget(function)
	r.lastSeen.Delete(function)
}

// pruneDeleted forgets the functions observed before listedAt that are not
// in live.
func (r *Registry) pruneDeleted(live map[string]bool, listedAt time.Time) {
	r.lastSeen.Range(func(k, v any) bool {
		name := k.(string)
		if !live[name] && v.(*atomic.Int64).Load() < listedAt.UnixNano() {
			r.forget(name)
		}
		return true
	})
	for _, name := range r.inflight.idleFunctions() {
		if !live[name] {
			r.inflight.forget(name)
		}
	}
}
