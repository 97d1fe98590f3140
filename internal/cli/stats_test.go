package cli

import (
	"bytes"
	"context"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"gust/internal/gusttest"
)

// statsRow returns the fields of NAME's row in a `gust stats` table:
// FUNCTION INVOCATIONS INV/S P50 P99 ERRORS THROTTLES CONCURRENT COLD-STARTS.
func statsRow(t *testing.T, table, name string) []string {
	t.Helper()
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			if len(f) != 9 {
				t.Fatalf("row of %s has %d fields, want 9: %q", name, len(f), line)
			}
			return f
		}
	}
	t.Fatalf("no row for %s in:\n%s", name, table)
	return nil
}

func wantFields(t *testing.T, row []string, want map[int]string) {
	t.Helper()
	cols := []string{"FUNCTION", "INVOCATIONS", "INV/S", "P50", "P99", "ERRORS", "THROTTLES", "CONCURRENT", "COLD STARTS"}
	for i, w := range want {
		if row[i] != w {
			t.Errorf("%s of %s = %q, want %q", cols[i], row[0], row[i], w)
		}
	}
}

func TestStatsCommand(t *testing.T) {
	srv := gusttest.StartServer(t)
	connectTo(t, srv)
	if err := os.WriteFile("app.py", []byte(asyncApp), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "deploy", ".", "--name", "fn", "--runtime", "python3.12", "--handler", "app.handler")
	mustRun(t, "deploy", ".", "--name", "idle", "--runtime", "python3.12", "--handler", "app.handler")
	c := srv.Lambda()
	for _, payload := range []string{`{}`, `{}`, `{"fail": true}`} {
		out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(payload)})
		if err != nil {
			t.Fatalf("invoke fn: %v", err)
		}
		if (out.FunctionError != nil) != strings.Contains(payload, "fail") {
			t.Fatalf("invoke fn %s: FunctionError %v", payload, aws.ToString(out.FunctionError))
		}
	}

	t.Run("once", func(t *testing.T) {
		out, _ := mustRun(t, "stats", "--once")
		if !strings.HasPrefix(out, "FUNCTION") || !strings.Contains(out, "COLD STARTS") {
			t.Errorf("no header line:\n%s", out)
		}
		row := statsRow(t, out, "fn")
		wantFields(t, row, map[int]string{1: "3", 2: "-", 5: "1", 6: "0", 7: "0", 8: "1"})
		for _, p := range row[3:5] {
			if !strings.HasSuffix(p, "ms") && !strings.HasSuffix(p, "s") {
				t.Errorf("percentile %q is not a duration", p)
			}
		}
		wantFields(t, statsRow(t, out, "idle"), map[int]string{1: "0", 3: "-", 4: "-", 5: "0", 8: "0"})
	})

	t.Run("one function", func(t *testing.T) {
		out, _ := mustRun(t, "stats", "fn", "--once")
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 {
			t.Errorf("stats fn: %d lines, want header and one row:\n%s", len(lines), out)
		}
		wantFields(t, statsRow(t, out, "fn"), map[int]string{1: "3"})
	})

	t.Run("unknown function", func(t *testing.T) {
		code, _, errOut := runCLI(t, "", "stats", "nosuch", "--once")
		if code != 1 || !strings.Contains(errOut, `"nosuch"`) {
			t.Errorf("stats nosuch: exit %d, stderr %q; want 1 naming the function", code, errOut)
		}
	})

	t.Run("live", func(t *testing.T) {
		var out syncBuffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int)
		go func() { done <- newApp(&out, &out, strings.NewReader("")).run(ctx, []string{"stats", "fn"}) }()
		// Two tables: the second has a rate (the first has none).
		gusttest.WaitFor(t, 10*time.Second, "two tables", func() bool {
			return strings.Count(out.String(), "gust stats  ") >= 2
		})
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("live stats ended with exit %d:\n%s", code, out.String())
		}
		frames := strings.Split(out.String(), "gust stats  ")
		if !strings.Contains(frames[1], srv.Endpoint) {
			t.Errorf("title line does not name the endpoint %s:\n%s", srv.Endpoint, frames[1])
		}
		wantFields(t, statsRow(t, frames[1], "fn"), map[int]string{1: "3", 2: "-"})
		wantFields(t, statsRow(t, frames[2], "fn"), map[int]string{1: "3", 2: "0.0"})
		if strings.Contains(out.String(), "\x1b[") {
			t.Errorf("escape sequences written to a non-terminal")
		}
	})
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestStatsQuantile(t *testing.T) {
	// 100 samples: 50 at most 10 ms, 90 at most 100 ms, all at most 1 s.
	fs := &functionStats{buckets: map[float64]float64{0.01: 50, 0.1: 90, 1: 100}, count: 100}
	tests := []struct{ q, want float64 }{
		{0.5, 0.01},    // the rank sits at the top of the first bucket
		{0.25, 0.005},  // halfway into the first bucket, from 0
		{0.7, 0.055},   // halfway into the second bucket
		{0.99, 0.91},   // 9 of the 10 in the last bucket
		{0.999, 0.991}, // still in the last finite bucket
	}
	for _, tt := range tests {
		if got := fs.quantile(tt.q); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	// Samples past every finite bucket: the highest finite bound.
	over := &functionStats{buckets: map[float64]float64{0.01: 1, 0.1: 1}, count: 10}
	if got := over.quantile(0.99); got != 0.1 {
		t.Errorf("quantile past the buckets = %v, want 0.1", got)
	}
	if got := (&functionStats{}).quantile(0.5); !math.IsNaN(got) {
		t.Errorf("quantile of no samples = %v, want NaN", got)
	}
	for _, tt := range []struct {
		s    float64
		want string
	}{{math.NaN(), "-"}, {0.0123, "12.3ms"}, {2.5, "2.50s"}} {
		if got := formatSeconds(tt.s); got != tt.want {
			t.Errorf("formatSeconds(%v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}
