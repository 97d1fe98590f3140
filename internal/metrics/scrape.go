package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gust/internal/envpool"
	"gust/internal/lambda"
)

// AsyncStats is one function's async queue as scrapes report it.
type AsyncStats struct {
	Queued         uint64        // events not yet handed to a worker
	InFlight       int           // events running or waiting for their next retry
	OldestEventAge time.Duration // of the oldest event queued or in flight; 0 when none
	// Counters since this node started.
	DeadLettered                int64 // events sent to a dead-letter queue
	DestinationDeliveryFailures int64 // destination records that could not be delivered
}

// AsyncQueue reports a function's async queue (the server adapts
// asyncq.Queue, which sits in this package's layer).
type AsyncQueue interface {
	AsyncStats(ctx context.Context, function string) (AsyncStats, error)
}

// UseAsyncQueue makes scrapes read q for every function the store lists.
// Call it once, before the handler serves.
func (r *Registry) UseAsyncQueue(q AsyncQueue) { r.async.Store(&q) }

// snapshot is what one scrape read from its sources.
type snapshot struct {
	envs        *envpool.Stats
	inflight    map[series]int
	provisioned []provisionedUse
	async       map[string]AsyncStats
	storeBytes  *uint64
}

// provisionedUse is one provisioned-concurrency config's utilization.
type provisionedUse struct {
	function, qualifier string
	utilization         float64
}

// read gathers the scrape-time values and drops deleted functions'
// series. A source that fails leaves its metrics out of this scrape.
func (r *Registry) read(ctx context.Context) snapshot {
	var s snapshot
	var live []string
	if f := r.opts.Functions; f != nil {
		listedAt := time.Now()
		fns, err := f.ListFunctions(ctx)
		if err != nil {
			r.logger.Warn("metrics: list functions", "err", err)
		} else {
			set := make(map[string]bool, len(fns))
			for _, fn := range fns {
				set[fn.Name] = true
				live = append(live, fn.Name)
			}
			r.pruneDeleted(set, listedAt)
		}
	}
	s.inflight = r.inflight.snapshot()
	if p := r.pool.Load(); p != nil {
		st := (*p).Stats()
		s.envs = &st
		s.provisioned = r.provisioned(ctx, *p, live, s.inflight)
	}
	if q := r.async.Load(); q != nil && len(live) > 0 {
		s.async = make(map[string]AsyncStats, len(live))
		for _, name := range live {
			st, err := (*q).AsyncStats(ctx, name)
			if err != nil {
				r.logger.Warn("metrics: async queue stats", "function", name, "err", err)
				continue
			}
			s.async[name] = st
		}
	}
	if js := r.opts.JetStream; js != nil {
		if info, err := js.AccountInfo(ctx); err != nil {
			r.logger.Warn("metrics: jetstream account info", "err", err)
		} else {
			b := info.Store
			s.storeBytes = &b
		}
	}
	return s
}

// provisioned computes each provisioned-concurrency config's utilization:
// its busy environments over those allocated. The pool does not say which
// of a version's busy environments are provisioned ones; it hands out an
// idle provisioned environment before any on-demand one, so busy
// provisioned is taken as min(invocations of the version in flight,
// provisioned environments available). That is exact once the config is
// ready and can only overstate while on-demand environments started before
// it are still busy.
func (r *Registry) provisioned(ctx context.Context, p Pool, functions []string, inflight map[series]int) []provisionedUse {
	var out []provisionedUse
	for _, name := range functions {
		for _, q := range p.Provisioned(name) {
			allocated, available := p.ProvisionedStatus(name, q)
			version := q
			if !lambda.IsVersion(q) {
				al, err := r.opts.Functions.GetAlias(ctx, name, q)
				if err != nil {
					r.logger.Warn("metrics: provisioned alias", "function", name, "alias", q, "err", err)
					continue
				}
				version = al.FunctionVersion
			}
			u := provisionedUse{function: name, qualifier: q}
			if allocated > 0 {
				u.utilization = float64(min(inflight[series{name, version}], available)) / float64(allocated)
			}
			out = append(out, u)
		}
	}
	return out
}

// Descriptions of the scrape-time metrics.
var (
	descConcurrent = prometheus.NewDesc("gust_concurrent_executions",
		"Invocations holding an execution environment now.", []string{labelFunction, labelVersion}, nil)
	descEnvironments = prometheus.NewDesc("gust_environments",
		"Execution environments by state: busy (held by an invocation, cold starts included), idle (warm), starting (provisioned ones being started, and any being stopped).",
		[]string{labelState}, nil)
	descProvisioned = prometheus.NewDesc("gust_provisioned_concurrency_utilization",
		"Busy provisioned environments over allocated ones, per provisioned-concurrency config (version or alias).",
		[]string{labelFunction, labelQualifier}, nil)
	descAsyncDepth = prometheus.NewDesc("gust_async_queue_depth",
		"Async events queued and not yet handed to a worker.", []string{labelFunction}, nil)
	descAsyncInFlight = prometheus.NewDesc("gust_async_events_in_flight",
		"Async events running or waiting for their next retry.", []string{labelFunction}, nil)
	descAsyncAge = prometheus.NewDesc("gust_async_oldest_event_age_seconds",
		"Age of the oldest async event queued or in flight (0 when none).", []string{labelFunction}, nil)
	descDeadLetters = prometheus.NewDesc("gust_async_dead_letters_total",
		"Async events sent to a dead-letter queue by this node since it started.", []string{labelFunction}, nil)
	descDestFailures = prometheus.NewDesc("gust_async_destination_failures_total",
		"Destination records this node could not deliver since it started.", []string{labelFunction}, nil)
	descStoreBytes = prometheus.NewDesc("gust_nats_store_bytes",
		"Bytes JetStream stores on disk for Gust's account (functions, code, queues).", nil, nil)
)

// scrapeCollector exports the Registry's latest snapshot.
type scrapeCollector struct{ r *Registry }

func (c scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConcurrent, descEnvironments, descProvisioned, descAsyncDepth,
		descAsyncInFlight, descAsyncAge, descDeadLetters, descDestFailures, descStoreBytes} {
		ch <- d
	}
}

// Collect runs inside Handler, which holds scrapeMu while it does.
func (c scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.snap
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for k, n := range s.inflight {
		gauge(descConcurrent, float64(n), k.function, k.version)
	}
	if e := s.envs; e != nil {
		gauge(descEnvironments, float64(e.Busy), "busy")
		gauge(descEnvironments, float64(e.Idle), "idle")
		gauge(descEnvironments, float64(max(e.Total-e.Busy-e.Idle, 0)), "starting")
	}
	for _, u := range s.provisioned {
		gauge(descProvisioned, u.utilization, u.function, u.qualifier)
	}
	for name, a := range s.async {
		gauge(descAsyncDepth, float64(a.Queued), name)
		gauge(descAsyncInFlight, float64(a.InFlight), name)
		gauge(descAsyncAge, a.OldestEventAge.Seconds(), name)
		counter(descDeadLetters, float64(a.DeadLettered), name)
		counter(descDestFailures, float64(a.DestinationDeliveryFailures), name)
	}
	if s.storeBytes != nil {
		gauge(descStoreBytes, float64(*s.storeBytes))
	}
}
