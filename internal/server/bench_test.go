package server_test

// Whole-server benchmarks: warm invoke latency and throughput against a
// bare net/http floor, and cold start per runtime. They drive a real
// in-process server through the AWS SDK, so the figures include the SDK's
// client-side cost (signing, serialising), which the floor pays too.
// docs/perf.md explains the figures and records a run.

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/config"
	"gust/internal/gusttest"
)

const benchPayload = `{"hello":"world"}`

// benchMemory is the benchmark functions' MemorySize. Under the linux
// sandbox it sets their CPU quota too (512/1769 of a core, as on Lambda),
// which throttles a busy warm runtime: docs/perf.md shows both, e.g.
//
//	go test ./internal/server -run '^$' -bench 'WarmInvoke/fn=go/conc=1$' -args -bench-memory=3008
var benchMemory = flag.Int("bench-memory", 512, "MemorySize of the benchmark functions, in MB")

// benchRuntimes are the deployed benchmark functions, by the name used in
// the benchmark keys (and as the function name).
var benchRuntimes = []string{"go", "node", "python"}

// deployBenchFunctions builds the Go echo function and creates one echo
// function per runtime, each named after its key in benchRuntimes.
func deployBenchFunctions(b *testing.B, c *lambda.Client) {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-o", bin, "./internal/server/testdata/benchfn")
	build.Dir = gusttest.RepoRoot(b)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build benchfn: %v\n%s", err, out)
	}
	fns := []struct {
		name    string
		runtime types.Runtime
		handler string
		zip     []byte
	}{
		{"go", types.RuntimeProvidedal2023, "bootstrap", gusttest.ZipBinary(b, bin)},
		{"node", types.RuntimeNodejs20x, "index.handler",
			gusttest.Zip(b, map[string]string{"index.mjs": "export const handler = async (e) => e;\n"})},
		{"python", types.RuntimePython312, "index.handler",
			gusttest.Zip(b, map[string]string{"index.py": "def handler(e, c):\n    return e\n"})},
	}
	for _, f := range fns {
		_, err := c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
			FunctionName: aws.String(f.name),
			Runtime:      f.runtime,
			Handler:      aws.String(f.handler),
			Role:         aws.String("arn:aws:iam::000000000000:role/lambda-role"),
			MemorySize:   aws.Int32(int32(*benchMemory)),
			Code:         &types.FunctionCode{ZipFile: f.zip},
		})
		if err != nil {
			b.Fatalf("create %s: %v", f.name, err)
		}
	}
}

// benchClient is a Lambda client like gusttest's, but whose transport keeps
// enough idle connections for 32 concurrent callers: with the default two
// per host, most requests at conc=32 would dial a new connection and the
// benchmark would measure TCP setup and TIME_WAIT churn instead.
func benchClient(cfg aws.Config, endpoint string) *lambda.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	cfg.HTTPClient = &http.Client{Timeout: time.Minute, Transport: tr}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.RetryMaxAttempts = 1
	})
}

// startFloor is the reference point: a bare net/http server that answers
// the Invoke route by echoing the body, as a function would.
func startFloor(b *testing.B) string {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	return srv.URL
}

func BenchmarkWarmInvoke(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a server and runtimes")
	}
	s := gusttest.StartServer(b, func(c *config.Server) { c.MaxConcurrency = 100 })
	gust := benchClient(s.AWSConfig(), s.Endpoint)
	deployBenchFunctions(b, gust)
	floorCfg := aws.Config{Region: s.Region(), Credentials: credentials.NewStaticCredentialsProvider("AKIDFLOOR", "floor-secret", "")}
	floor := benchClient(floorCfg, startFloor(b))

	for _, fn := range append([]string{"floor"}, benchRuntimes...) {
		c := gust
		if fn == "floor" {
			c = floor
		}
		for _, conc := range []int{1, 32} {
			b.Run(fmt.Sprintf("fn=%s/conc=%d", fn, conc), func(b *testing.B) {
				warmInvoke(b, c, fn, conc)
			})
		}
		// Stop this function's warm environments so they do not share
		// the machine with the next runtime's.
		s.Pool().Invalidate(fn, nil)
	}
}

// warmInvoke invokes fn b.N times from conc goroutines after warming conc
// environments, and reports latency percentiles and throughput.
func warmInvoke(b *testing.B, c *lambda.Client, fn string, conc int) {
	ctx := context.Background()
	invoke := func(in *lambda.InvokeInput) error {
		out, err := c.Invoke(ctx, in)
		if err != nil {
			return err
		}
		if out.FunctionError != nil {
			return fmt.Errorf("function error %s: %s", *out.FunctionError, out.Payload)
		}
		// Python's json.dumps adds a space after the colon: compare loosely.
		if !bytes.Contains(out.Payload, []byte(`"hello"`)) || !bytes.Contains(out.Payload, []byte(`"world"`)) {
			return fmt.Errorf("payload = %q", out.Payload)
		}
		return nil
	}
	newInput := func() *lambda.InvokeInput {
		return &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(benchPayload)}
	}

	// Warm up at the target concurrency, so the pool holds conc
	// environments before the clock starts.
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			in := newInput()
			for range 3 {
				if err := invoke(in); err != nil {
					b.Errorf("warm-up: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}

	b.ReportAllocs()
	lats := make([][]time.Duration, conc)
	var next atomic.Int64
	n := int64(b.N)
	b.ResetTimer()
	start := time.Now()
	for g := range conc {
		lats[g] = make([]time.Duration, 0, b.N/conc+1)
		wg.Go(func() {
			in := newInput()
			for next.Add(1) <= n {
				t0 := time.Now()
				err := invoke(in)
				lats[g] = append(lats[g], time.Since(t0))
				if err != nil {
					b.Errorf("invoke: %v", err)
					next.Store(n) // stop the others
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if b.Failed() {
		return
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	b.ReportMetric(percentile(all, 50), "p50-µs")
	b.ReportMetric(percentile(all, 99), "p99-µs")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "invokes/s")
}

// percentile is the nearest-rank p-th percentile of sorted, in µs.
func percentile(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p+99)/100 - 1
	return float64(sorted[max(i, 0)].Nanoseconds()) / 1e3
}

var initDurationRE = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)

// BenchmarkColdStart runs each function's cold start on three servers
// side by side: one starting every environment afresh, one keeping
// sandbox shells (namespaces, network, cgroup and root made ahead), and
// one keeping stem cells too (shells with the Node.js or Python runtime
// started). Under the process sandbox there are neither, and the three
// are alike.
func BenchmarkColdStart(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a server and runtimes")
	}
	for _, v := range []struct {
		name          string
		shells, stems int
	}{{"fresh", 0, 0}, {"shells", 2, 0}, {"stems", 2, 1}} {
		b.Run("start="+v.name, func(b *testing.B) {
			s := gusttest.StartServer(b, func(c *config.Server) { c.SandboxShells, c.StemCells = v.shells, v.stems })
			c := s.Lambda()
			deployBenchFunctions(b, c)
			for _, fn := range benchRuntimes {
				b.Run("fn="+fn, func(b *testing.B) { benchColdStart(b, s, fn) })
				s.Pool().Invalidate(fn, nil)
			}
		})
	}
}

// benchColdStart measures fn's cold start on s; each start waits
// (untimed) until the server's shells are all ready.
func benchColdStart(b *testing.B, s *gusttest.Server, fn string) {
	ctx := context.Background()
	c := s.Lambda()
	in := &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(benchPayload), LogType: types.LogTypeTail}
	// One untimed invoke first, so the code is unpacked in the
	// cache (Lambda's init duration excludes the download too).
	if _, err := c.Invoke(ctx, in); err != nil {
		b.Fatalf("first invoke: %v", err)
	}
	var wall time.Duration
	var initMs float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s.Pool().Invalidate(fn, nil)
		gusttest.WaitFor(b, 10*time.Second, "the sandbox shells", s.Shells().Full)
		b.StartTimer()
		t0 := time.Now()
		out, err := c.Invoke(ctx, in)
		wall += time.Since(t0)
		if err != nil {
			b.Fatalf("invoke: %v", err)
		}
		if out.FunctionError != nil {
			b.Fatalf("function error %s: %s", *out.FunctionError, out.Payload)
		}
		ms, err := initDuration(aws.ToString(out.LogResult))
		if err != nil {
			b.Fatal(err)
		}
		initMs += ms
	}
	b.StopTimer()
	b.ReportMetric(float64(wall.Microseconds())/1e3/float64(b.N), "first-invoke-ms")
	b.ReportMetric(initMs/float64(b.N), "init-ms")
}

// initDuration reads "Init Duration: X ms" from a base64 log tail.
func initDuration(logResult string) (float64, error) {
	tail, err := base64.StdEncoding.DecodeString(logResult)
	if err != nil {
		return 0, fmt.Errorf("decode log result: %w", err)
	}
	m := initDurationRE.FindSubmatch(tail)
	if m == nil {
		return 0, fmt.Errorf("no Init Duration in log tail:\n%s", tail)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}
