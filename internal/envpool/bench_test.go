package envpool

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"gust/internal/lambda"
	"gust/internal/runtimeapi"
)

// benchRuntimeEnv, set in a process of this test binary, makes it an echo
// runtime instead of running tests (see TestMain).
const benchRuntimeEnv = "GUST_ENVPOOL_ECHO_RUNTIME"

func TestMain(m *testing.M) {
	if os.Getenv(benchRuntimeEnv) != "" {
		os.Exit(echoRuntime(os.Getenv("AWS_LAMBDA_RUNTIME_API")))
	}
	os.Exit(m.Run())
}

// echoRuntime is a Runtime API client that answers every event with the
// event, over one kept-alive connection, until /next fails.
func echoRuntime(api string) int {
	base := "http://" + api + "/2018-06-01/runtime/invocation/"
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	var buf bytes.Buffer
	for {
		res, err := c.Get(base + "next")
		if err != nil {
			return 1
		}
		buf.Reset()
		_, err = buf.ReadFrom(res.Body)
		res.Body.Close()
		if err != nil {
			return 1
		}
		id := res.Header.Get("Lambda-Runtime-Aws-Request-Id")
		res, err = c.Post(base+id+"/response", "application/json", bytes.NewReader(buf.Bytes()))
		if err != nil {
			return 1
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
}

// echoLauncher launches this test binary as echoRuntime.
type echoLauncher struct{ dir string }

func (l echoLauncher) Prepare(context.Context, *lambda.Function) (LaunchSpec, error) {
	exe, err := os.Executable()
	if err != nil {
		return LaunchSpec{}, err
	}
	return LaunchSpec{Argv: []string{exe}, Dir: l.dir, RuntimeDir: l.dir, Env: []string{benchRuntimeEnv + "=1"}}, nil
}

// discardLogs drops every log line.
type discardLogs struct{}

func (discardLogs) WriteLog(string, string, time.Time, string) {}

// BenchmarkWarmInvoke measures the pool's warm path on the process
// sandbox: Acquire of an idle environment, Invoke (the event to the
// runtime's pending /next, its /response back, the REPORT line) and
// Release, with conc callers. The runtime is this test binary (a Go
// net/http client, as aws-lambda-go's is), so the figure is the pool's
// cost plus one Runtime API round trip to another process; compare
// runtimeapi's BenchmarkInvokeRoundTrip, whose runtime is in-process.
//
//	go test -run '^$' -bench WarmInvoke -benchmem ./internal/envpool
func BenchmarkWarmInvoke(b *testing.B) {
	for _, conc := range []int{1, 8} {
		b.Run("conc="+strconv.Itoa(conc), func(b *testing.B) {
			m := New(Options{
				Identity:    lambda.Identity{Region: "us-east-1", Account: "000000000000"},
				Launcher:    echoLauncher{dir: b.TempDir()},
				Logs:        discardLogs{},
				Logger:      slog.New(slog.DiscardHandler),
				InitTimeout: 10 * time.Second,
				Sandbox:     "process",
			})
			defer m.Close(context.Background())
			fn := testFunction("$LATEST", "r1")
			payload := []byte(`{"hello":"world"}`)
			invoke := func(id string) error {
				e, err := m.Acquire(context.Background(), fn, id)
				if err != nil {
					return err
				}
				o := e.Invoke(context.Background(), runtimeapi.Invocation{RequestID: id, Payload: payload}, fn.Version)
				m.Release(e)
				if o.ErrorType != "" || !bytes.Equal(o.Payload, payload) {
					return fmt.Errorf("outcome %s: %s", o.ErrorType, o.Payload)
				}
				return nil
			}
			// Warm conc environments first.
			warm := make(chan error, conc)
			for i := range conc {
				go func() { warm <- invoke("warm-" + strconv.Itoa(i)) }()
			}
			for range conc {
				if err := <-warm; err != nil {
					b.Fatal(err)
				}
			}
			var seq atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			done := make(chan error, conc)
			for range conc {
				go func() {
					for {
						n := seq.Add(1)
						if n > int64(b.N) {
							done <- nil
							return
						}
						if err := invoke("req-" + strconv.FormatInt(n, 10)); err != nil {
							done <- err
							return
						}
					}
				}()
			}
			for range conc {
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
