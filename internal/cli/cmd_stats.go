package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"
)

// statsInterval is how often `gust stats` refreshes its table.
const statsInterval = time.Second

func (a *app) statsCommand() *cobra.Command {
	var once bool
	cmd := &cobra.Command{
		Use:   "stats [NAME] [--once]",
		Short: "Show live invocation metrics per function",
		Long: `Show a table of every function's invocation metrics (or only NAME's),
refreshed in place every second until interrupted:

  INVOCATIONS  invocations since the server started
  INV/S        invocations per second since the previous refresh
  P50, P99     invoke duration percentiles since the server started,
               estimated from the duration histogram
  ERRORS       invocations that ended in an error (function, timeout or
               runtime)
  THROTTLES    invocations refused for concurrency
  CONCURRENT   invocations running now
  COLD STARTS  invocations that started a new environment

The figures come from the server's Prometheus metrics, read from
GET /_gust/v1/metrics with your signed credentials (IAM action
gust:Metrics). Counters are this server's since it started.

With --once one table is printed, without INV/S, and the command exits:
for scripts.`,
		Example: `  gust stats
  gust stats hello
  gust stats --once hello`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.settings()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			v := statsView{client: s.GustClient(), function: name, out: a.stdout, endpoint: s.Endpoint}
			if once {
				return v.once(cmd.Context())
			}
			return v.live(cmd.Context(), isTerminal(a.stdout))
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "print one table and exit")
	return cmd
}

// Metrics reads and parses the server's Prometheus metrics.
func (c *GustClient) Metrics(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	const path = "/_gust/v1/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.s.Endpoint+path, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	sum := sha256.Sum256(nil)
	creds := aws.Credentials{AccessKeyID: c.s.AccessKeyID, SecretAccessKey: c.s.SecretAccessKey, SessionToken: c.s.SessionToken}
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", c.s.Region, c.now()); err != nil {
		return nil, fmt.Errorf("sign GET %s: %w", path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err // a *url.Error around the *net.OpError describeError explains
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, decodeGustError(resp)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: parse metrics: %w", path, err)
	}
	return fams, nil
}

// statsView prints the stats table once or live.
type statsView struct {
	client   *GustClient
	function string // "" = every function
	out      io.Writer
	endpoint string
}

func (v statsView) read(ctx context.Context) (statsSnapshot, error) {
	fams, err := v.client.Metrics(ctx)
	if err != nil {
		return statsSnapshot{}, fmt.Errorf("stats: %w", err)
	}
	snap := summarizeMetrics(fams, time.Now())
	if v.function != "" {
		fs, ok := snap.functions[v.function]
		if !ok {
			return statsSnapshot{}, fmt.Errorf("stats: the server has no metrics of function %q (is it deployed?)", v.function)
		}
		snap.functions = map[string]*functionStats{v.function: fs}
	}
	return snap, nil
}

func (v statsView) once(ctx context.Context) error {
	snap, err := v.read(ctx)
	if err != nil {
		return err
	}
	return writeStatsTable(v.out, snap, nil)
}

// live redraws the table every statsInterval until ctx ends. On a
// terminal each table replaces the last; otherwise tables follow one
// another, separated by a blank line.
func (v statsView) live(ctx context.Context, terminal bool) error {
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	var prev *statsSnapshot
	for {
		snap, err := v.read(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		frame := "\n"
		if terminal {
			frame = "\x1b[H\x1b[2J" // cursor home, clear screen
		}
		if prev == nil && !terminal {
			frame = ""
		}
		fmt.Fprintf(v.out, "%sgust stats  %s  %s  (Ctrl-C to stop)\n\n", frame, v.endpoint, snap.at.Format(time.TimeOnly))
		if err := writeStatsTable(v.out, snap, prev); err != nil {
			return err
		}
		prev = &snap
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// isTerminal reports whether w is a character device, where the live
// table is redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// statsSnapshot is one reading of the metrics, per function.
type statsSnapshot struct {
	at        time.Time
	functions map[string]*functionStats
}

// functionStats sums one function's series over its versions.
type functionStats struct {
	invocations, errors, throttles, concurrent, coldStarts float64
	// buckets is the duration histogram: cumulative counts by upper
	// bound (seconds), +Inf left out; count is every sample.
	buckets map[float64]float64
	count   float64
}

// summarizeMetrics sums the per-function series of a scrape. Every
// function the server knows appears, through its async queue series, even
// if it never ran.
func summarizeMetrics(fams map[string]*dto.MetricFamily, at time.Time) statsSnapshot {
	snap := statsSnapshot{at: at, functions: make(map[string]*functionStats)}
	get := func(name string) *functionStats {
		fs := snap.functions[name]
		if fs == nil {
			fs = &functionStats{buckets: make(map[float64]float64)}
			snap.functions[name] = fs
		}
		return fs
	}
	add := func(family string, field func(*functionStats) *float64) {
		for _, m := range fams[family].GetMetric() {
			if name, ok := labelValue(m, "function"); ok {
				*field(get(name)) += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	add("gust_invocations_total", func(f *functionStats) *float64 { return &f.invocations })
	add("gust_errors_total", func(f *functionStats) *float64 { return &f.errors })
	add("gust_throttles_total", func(f *functionStats) *float64 { return &f.throttles })
	add("gust_concurrent_executions", func(f *functionStats) *float64 { return &f.concurrent })
	add("gust_cold_starts_total", func(f *functionStats) *float64 { return &f.coldStarts })
	for _, m := range fams["gust_async_queue_depth"].GetMetric() {
		if name, ok := labelValue(m, "function"); ok {
			get(name)
		}
	}
	for _, m := range fams["gust_duration_seconds"].GetMetric() {
		name, ok := labelValue(m, "function")
		if !ok {
			continue
		}
		fs := get(name)
		h := m.GetHistogram()
		fs.count += float64(h.GetSampleCount())
		for _, b := range h.GetBucket() {
			if !math.IsInf(b.GetUpperBound(), +1) {
				fs.buckets[b.GetUpperBound()] += float64(b.GetCumulativeCount())
			}
		}
	}
	return snap
}

func labelValue(m *dto.Metric, name string) (string, bool) {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue(), true
		}
	}
	return "", false
}

// quantile estimates the q-quantile of a histogram as Prometheus's
// histogram_quantile does: linear interpolation within the bucket that
// holds the rank, the highest finite bound for a rank past every bucket.
// NaN when there are no samples.
func (f *functionStats) quantile(q float64) float64 {
	if f.count == 0 {
		return math.NaN()
	}
	bounds := make([]float64, 0, len(f.buckets))
	for b := range f.buckets {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	rank := q * f.count
	lower, below := 0.0, 0.0
	for _, upper := range bounds {
		n := f.buckets[upper]
		if n >= rank && n > below {
			return lower + (upper-lower)*(rank-below)/(n-below)
		}
		lower, below = upper, n
	}
	return lower
}

// writeStatsTable prints snap; with prev, INV/S is the rate since prev.
func writeStatsTable(w io.Writer, snap statsSnapshot, prev *statsSnapshot) error {
	names := make([]string, 0, len(snap.functions))
	for name := range snap.functions {
		names = append(names, name)
	}
	slices.Sort(names)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION\tINVOCATIONS\tINV/S\tP50\tP99\tERRORS\tTHROTTLES\tCONCURRENT\tCOLD STARTS")
	for _, name := range names {
		fs := snap.functions[name]
		rate := "-"
		if prev != nil {
			if p, ok := prev.functions[name]; ok {
				if secs := snap.at.Sub(prev.at).Seconds(); secs > 0 {
					rate = strconv.FormatFloat(max(fs.invocations-p.invocations, 0)/secs, 'f', 1, 64)
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\n", name, fs.invocations, rate,
			formatSeconds(fs.quantile(0.5)), formatSeconds(fs.quantile(0.99)),
			fs.errors, fs.throttles, fs.concurrent, fs.coldStarts)
	}
	return tw.Flush()
}

// formatSeconds shows a duration in ms below a second, "-" for NaN.
func formatSeconds(s float64) string {
	switch {
	case math.IsNaN(s):
		return "-"
	case s < 1:
		return strconv.FormatFloat(s*1000, 'f', 1, 64) + "ms"
	default:
		return strconv.FormatFloat(s, 'f', 2, 64) + "s"
	}
}
