package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Report is everything one Run measured, and where and how.
type Report struct {
	Started        time.Time `json:"started"`
	ElapsedSeconds float64   `json:"elapsed_s"`
	GustVersion    string    `json:"gust_version"`
	Command        []string  `json:"command"`
	Machine        Machine   `json:"machine"`
	Target         Target    `json:"target"`
	Settings       Settings  `json:"settings"`

	// Floor has one row per concurrency, Warm one per runtime and
	// concurrency, in the order measured.
	Floor    []Warm    `json:"floor"`
	Warm     []Warm    `json:"warm"`
	Cold     []Cold    `json:"cold,omitempty"`
	ScaleOut *ScaleOut `json:"scale_out,omitempty"`
	// Memory has one row per runtime whose idle environment could be
	// seen from here.
	Memory []Memory `json:"idle_memory,omitempty"`
	Async  *Async   `json:"async,omitempty"`
}

// Machine is the host the bench ran on, as it was when the run started.
type Machine struct {
	Cores     int    `json:"cores"`
	CPUModel  string `json:"cpu_model,omitempty"` // /proc/cpuinfo's "model name"
	Kernel    string `json:"kernel,omitempty"`
	OSArch    string `json:"os_arch"`
	GoVersion string `json:"go_version"`
	// LoadAverage is the 1, 5 and 15-minute load average at the start.
	LoadAverage []float64 `json:"load_average,omitempty"`
	// Interpreters are the versions of the runtimes' interpreters (those
	// Options names, or else found on PATH), by runtime.
	Interpreters map[string]string `json:"interpreters,omitempty"`
}

// Target is the server measured.
type Target struct {
	Endpoint  string `json:"endpoint"`
	InProcess bool   `json:"in_process"`
	Sandbox   string `json:"sandbox,omitempty"` // in-process only
	// Linking is how the in-process server's binary, which each linux
	// sandbox's init re-executes, was linked: "static" or "dynamic".
	Linking string `json:"linking,omitempty"`
}

// Settings are the options the run used, defaults applied.
type Settings struct {
	Concurrency []int    `json:"concurrency"`
	DurationMs  int64    `json:"duration_ms"`
	ColdStarts  int      `json:"cold_starts"`
	ScaleOut    int      `json:"scale_out"`
	HoldMs      int64    `json:"hold_ms"`
	AsyncEvents int      `json:"async_events"`
	Runtimes    []string `json:"runtimes"`
	GoBootstrap string   `json:"go_bootstrap"`
	MemoryMB    int      `json:"memory_mb"`
}

// Warm is one warm measurement: Function at Concurrency for Seconds.
// Latencies run from just before Invoke is called until it returns.
type Warm struct {
	Function      string  `json:"function"` // runtime, or "floor"
	Concurrency   int     `json:"concurrency"`
	Invokes       int     `json:"invokes"`
	Seconds       float64 `json:"seconds"`
	InvokesPerSec float64 `json:"invokes_per_s"`
	P50Us         float64 `json:"p50_us"`
	P99Us         float64 `json:"p99_us"`
	// OverheadP50Us is P50Us minus the floor's at the same concurrency.
	OverheadP50Us float64 `json:"overhead_p50_us,omitempty"`
}

// Cold is one runtime's cold starts: the first invoke after a
// configuration change, as the client timed it, and the Init Duration of
// its REPORT line.
type Cold struct {
	Function         string  `json:"function"`
	Starts           int     `json:"starts"`
	FirstInvokeP50Ms float64 `json:"first_invoke_p50_ms"`
	FirstInvokeP90Ms float64 `json:"first_invoke_p90_ms"`
	InitP50Ms        float64 `json:"init_p50_ms"`
	InitP90Ms        float64 `json:"init_p90_ms"`
}

// ScaleOut is Invokes simultaneous invokes of the go function, each
// holding its environment HoldMs, with no environment warm. Times run
// from the moment the invokes were released.
type ScaleOut struct {
	Invokes      int   `json:"invokes"`
	HoldMs       int64 `json:"hold_ms"`
	Environments int   `json:"environments"` // distinct environments the handlers ran in
	// FirstStartMs, MedianStartMs and LastStartMs are when the first,
	// the middle and the last handler started; AllReturnedMs when the
	// last invoke returned.
	FirstStartMs  float64 `json:"first_start_ms"`
	MedianStartMs float64 `json:"median_start_ms"`
	LastStartMs   float64 `json:"last_start_ms"`
	AllReturnedMs float64 `json:"all_returned_ms"`
}

// Async is a burst of Event invocations of the go function from Senders
// goroutines. Rates run from the first send to the last 202 (accepted)
// and to the last arrival at the collector (delivered); latencies from
// just before an event was sent until it arrived.
type Async struct {
	Events          int     `json:"events"`
	Delivered       int     `json:"delivered"`
	Senders         int     `json:"senders"`
	AcceptedPerSec  float64 `json:"accepted_per_s"`
	DeliveredPerSec float64 `json:"delivered_per_s"`
	P50Ms           float64 `json:"p50_ms"`
	P99Ms           float64 `json:"p99_ms"`
}

// newReport describes the run about to start.
func newReport(o Options) *Report {
	return &Report{
		Started:     time.Now().UTC(),
		GustVersion: o.Version,
		Command:     o.Command,
		Machine:     machine(o),
		Settings: Settings{
			Concurrency: o.Concurrency,
			DurationMs:  o.Duration.Milliseconds(),
			ColdStarts:  max(o.ColdStarts, 0),
			ScaleOut:    max(o.ScaleOut, 0),
			HoldMs:      o.Hold.Milliseconds(),
			AsyncEvents: max(o.AsyncEvents, 0),
			Runtimes:    o.Runtimes,
			GoBootstrap: o.GoBootstrap,
			MemoryMB:    memorySize,
		},
	}
}

// machine reads what can be known of the host; fields it cannot read
// stay empty.
func machine(o Options) Machine {
	m := Machine{
		Cores:     runtime.NumCPU(),
		OSArch:    runtime.GOOS + "/" + runtime.GOARCH,
		GoVersion: runtime.Version(),
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fields := strings.Fields(string(b))
		for _, f := range fields[:min(3, len(fields))] {
			if v, err := strconv.ParseFloat(f, 64); err == nil {
				m.LoadAverage = append(m.LoadAverage, v)
			}
		}
	}
	for _, rt := range o.Runtimes {
		var v string
		switch rt {
		case RuntimeNode:
			v = version(o.node(), "--version")
		case RuntimePython:
			v = strings.TrimPrefix(version(o.python(), "--version"), "Python ")
		}
		if v != "" {
			if m.Interpreters == nil {
				m.Interpreters = map[string]string{}
			}
			m.Interpreters[rt] = v
		}
	}
	return m
}

// version is the first line exe prints for args, or "".
func version(exe string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, exe, args...).CombinedOutput()
	if err != nil {
		return ""
	}
	line, _, _ := bytes.Cut(bytes.TrimSpace(out), []byte("\n"))
	return string(line)
}

// WriteTable renders the report as markdown tables, like docs/perf.md's.
func (r *Report) WriteTable(w io.Writer) error {
	var b bytes.Buffer
	m := r.Machine
	fmt.Fprintf(&b, "# gust bench\n\n")
	fmt.Fprintf(&b, "- command: `%s`\n", strings.Join(r.Command, " "))
	fmt.Fprintf(&b, "- gust %s, %s, started %s, took %.0f s\n", r.GustVersion, m.GoVersion, r.Started.Format(time.RFC3339), r.ElapsedSeconds)
	fmt.Fprintf(&b, "- machine: %d cores, %s, kernel %s, %s", m.Cores, orDash(m.CPUModel), orDash(m.Kernel), m.OSArch)
	if len(m.LoadAverage) > 0 {
		fmt.Fprintf(&b, ", load average %s at the start", joinFloats(m.LoadAverage))
	}
	fmt.Fprintln(&b)
	if len(m.Interpreters) > 0 {
		var parts []string
		for _, rt := range r.Settings.Runtimes {
			if v, ok := m.Interpreters[rt]; ok {
				parts = append(parts, rt+" "+v)
			}
		}
		fmt.Fprintf(&b, "- interpreters: %s\n", strings.Join(parts, ", "))
	}
	if r.Target.InProcess {
		fmt.Fprintf(&b, "- server: in-process at %s, sandbox %s, %s binary\n", r.Target.Endpoint, r.Target.Sandbox, orDash(r.Target.Linking))
	} else {
		fmt.Fprintf(&b, "- server: %s\n", r.Target.Endpoint)
	}
	fmt.Fprintf(&b, "- functions: %d MB; go bootstrap %s\n", r.Settings.MemoryMB, r.Settings.GoBootstrap)

	fmt.Fprintf(&b, "\n## Warm invoke\n\n%d ms per row, after a warm-up at the same concurrency. Overhead is p50 minus the floor's p50.\n\n",
		r.Settings.DurationMs)
	fmt.Fprintln(&b, "| fn | conc | invokes | invokes/s | p50 µs | p99 µs | overhead p50 µs |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|")
	for _, c := range r.Settings.Concurrency {
		for _, row := range append(append([]Warm(nil), r.Floor...), r.Warm...) {
			if row.Concurrency != c {
				continue
			}
			over := "—"
			if row.Function != floorName {
				over = fmt.Sprintf("%.0f", row.OverheadP50Us)
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %.0f | %.0f | %.0f | %s |\n",
				row.Function, row.Concurrency, row.Invokes, row.InvokesPerSec, row.P50Us, row.P99Us, over)
		}
	}
	if len(r.Memory) > 0 {
		fmt.Fprintf(&b, "\n## Idle environment memory\n\nOne environment after one invoke, summed over its processes (the runtime, and the sandbox's init).\n\n")
		fmt.Fprintln(&b, "| fn | processes | RSS MB | PSS MB | private MB |")
		fmt.Fprintln(&b, "|---|---|---|---|---|")
		for _, m := range r.Memory {
			fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %.1f |\n", m.Function, m.Processes, m.RSSMB, m.PSSMB, m.PrivateMB)
		}
	}
	if len(r.Cold) > 0 {
		fmt.Fprintf(&b, "\n## Cold start\n\nEach start follows a configuration change that stops the function's environments")
		if r.Target.InProcess {
			fmt.Fprintf(&b, ", once the server's sandbox shells and stem cells are all ready")
		}
		fmt.Fprintf(&b, ".\n\n")
		fmt.Fprintln(&b, "| fn | starts | first invoke p50 ms | first invoke p90 ms | init p50 ms | init p90 ms |")
		fmt.Fprintln(&b, "|---|---|---|---|---|---|")
		for _, c := range r.Cold {
			fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %.1f | %.1f |\n",
				c.Function, c.Starts, c.FirstInvokeP50Ms, c.FirstInvokeP90Ms, c.InitP50Ms, c.InitP90Ms)
		}
	}
	if s := r.ScaleOut; s != nil {
		fmt.Fprintf(&b, "\n## Scale-out\n\n%d invokes of go at once, none warm, each holding its environment %d ms. Times from the release of the invokes.\n\n",
			s.Invokes, s.HoldMs)
		fmt.Fprintln(&b, "| invokes | environments | first handler started ms | median handler started ms | last handler started ms | all returned ms |")
		fmt.Fprintln(&b, "|---|---|---|---|---|---|")
		fmt.Fprintf(&b, "| %d | %d | %.0f | %.0f | %.0f | %.0f |\n", s.Invokes, s.Environments, s.FirstStartMs, s.MedianStartMs, s.LastStartMs, s.AllReturnedMs)
	}
	if a := r.Async; a != nil {
		fmt.Fprintf(&b, "\n## Async\n\n%d Event invocations of go from %d goroutines; each function run POSTs its request id to a collector in the bench process. Rates from the first send.\n\n",
			a.Events, a.Senders)
		fmt.Fprintln(&b, "| events | delivered | accepted/s | delivered/s | p50 end to end ms | p99 end to end ms |")
		fmt.Fprintln(&b, "|---|---|---|---|---|---|")
		fmt.Fprintf(&b, "| %d | %d | %.0f | %.0f | %.1f | %.1f |\n", a.Events, a.Delivered, a.AcceptedPerSec, a.DeliveredPerSec, a.P50Ms, a.P99Ms)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func joinFloats(fs []float64) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = strconv.FormatFloat(f, 'f', 2, 64)
	}
	return strings.Join(parts, " ")
}
