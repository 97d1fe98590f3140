package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// warmPayload is the event of every warm invoke.
const warmPayload = `{"hello":"world"}`

// warmUpInvokes is how many invokes each goroutine makes before the clock
// starts, so the pool holds as many environments as there are callers.
const warmUpInvokes = 3

// floorName is the floor's row name in the report.
const floorName = "floor"

// floor is the reference point of the warm figures: a bare net/http server
// on loopback that answers the Invoke route by echoing the body with 200
// and X-Amz-Executed-Version: $LATEST, as a function would, called with
// the same client type and transport. What it costs is the SDK client
// (signing, middleware, serialising), loopback HTTP and Go's HTTP server.
type floor struct {
	srv    *http.Server
	done   chan struct{}
	client *lambda.Client
}

func startFloor(opts Options) (*floor, error) {
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: floor: %w", err)
	}
	f := &floor{srv: &http.Server{Handler: mux, ReadHeaderTimeout: time.Minute}, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		_ = f.srv.Serve(ln) // ErrServerClosed after close
	}()
	cfg := aws.Config{
		Region:      opts.Region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDFLOOR", "floor-secret", ""),
	}
	f.client = newClient(cfg, "http://"+ln.Addr().String())
	return f, nil
}

func (f *floor) close() {
	_ = f.srv.Close()
	<-f.done
}

// measureWarm measures the floor and then each runtime at each
// concurrency, and stops each runtime's environments when it is done so
// they do not share the machine with the next runtime's.
func measureWarm(ctx context.Context, t *target, f *floor, opts Options, rep *Report, p func(string, ...any)) error {
	floorP50 := map[int]float64{}
	for _, conc := range opts.Concurrency {
		w, err := warm(ctx, f.client, floorName, "floor", conc, opts.Duration)
		if err != nil {
			return err
		}
		floorP50[conc] = w.P50Us
		rep.Floor = append(rep.Floor, w)
		p("warm floor conc=%d: %.0f invokes/s, p50 %.0f µs, p99 %.0f µs", conc, w.InvokesPerSec, w.P50Us, w.P99Us)
	}
	for _, rt := range opts.Runtimes {
		for _, conc := range opts.Concurrency {
			w, err := warm(ctx, t.lambda, rt, functionName(rt), conc, opts.Duration)
			if err != nil {
				return err
			}
			w.OverheadP50Us = w.P50Us - floorP50[conc]
			rep.Warm = append(rep.Warm, w)
			p("warm %s conc=%d: %.0f invokes/s, p50 %.0f µs, p99 %.0f µs (+%.0f µs over the floor)",
				rt, conc, w.InvokesPerSec, w.P50Us, w.P99Us, w.OverheadP50Us)
		}
		if err := t.recycle(ctx, functionName(rt)); err != nil {
			return err
		}
	}
	return nil
}

// warm invokes fn from conc goroutines for d, after each goroutine made
// warmUpInvokes invokes, and returns the figures of the timed part.
func warm(ctx context.Context, c *lambda.Client, name, fn string, conc int, d time.Duration) (Warm, error) {
	invoke := func(ctx context.Context) error {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(warmPayload)})
		if err != nil {
			return err
		}
		if out.FunctionError != nil {
			return fmt.Errorf("function error %s: %s", *out.FunctionError, out.Payload)
		}
		// Python's json.dumps adds a space after the colon: compare loosely.
		if !bytes.Contains(out.Payload, []byte(`"hello"`)) || !bytes.Contains(out.Payload, []byte(`"world"`)) {
			return fmt.Errorf("payload = %q, want the event back", out.Payload)
		}
		return nil
	}
	fail := func(err error) (Warm, error) {
		return Warm{}, fmt.Errorf("bench: warm %s conc=%d: %w", name, conc, err)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for range warmUpInvokes {
				if err := invoke(ctx); err != nil {
					cancel(fmt.Errorf("warm-up: %w", err))
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fail(err)
	}

	lats := make([][]time.Duration, conc)
	var stop atomic.Bool
	start := time.Now()
	deadline := start.Add(d)
	for g := range conc {
		wg.Go(func() {
			for !stop.Load() && time.Now().Before(deadline) {
				t0 := time.Now()
				err := invoke(ctx)
				lats[g] = append(lats[g], time.Since(t0))
				if err != nil {
					stop.Store(true)
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return fail(err)
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	return Warm{
		Function:      name,
		Concurrency:   conc,
		Invokes:       len(all),
		Seconds:       elapsed.Seconds(),
		InvokesPerSec: float64(len(all)) / elapsed.Seconds(),
		P50Us:         micros(percentile(all, 50)),
		P99Us:         micros(percentile(all, 99)),
	}, nil
}

// percentile is the nearest-rank p-th percentile of sorted (0 if empty).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
func millis(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
