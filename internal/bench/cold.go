package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/lazyre"
)

var initDurationRE = lazyre.New(`Init Duration: ([0-9.]+) ms`)

// measureCold makes n cold starts of runtime rt's function: each time a
// configuration change stops its environments, then one invoke with the
// log tail is timed and its REPORT line's Init Duration read. On a server
// in-process, each start first waits until the sandbox shells and stem
// cells the last start used are made again, as they would be on a server
// whose cold starts are not back to back.
func measureCold(ctx context.Context, t *target, rt string, n int) (Cold, error) {
	fn := functionName(rt)
	fail := func(err error) (Cold, error) { return Cold{}, fmt.Errorf("bench: cold %s: %w", rt, err) }
	in := &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(warmPayload), LogType: types.LogTypeTail}
	// One untimed invoke first, so the code is unpacked in the server's
	// cache (Lambda's Init Duration leaves out fetching the code too).
	if _, err := t.lambda.Invoke(ctx, in); err != nil {
		return fail(err)
	}
	var walls, inits []time.Duration
	for range n {
		if err := t.recycle(ctx, fn); err != nil {
			return fail(err)
		}
		if err := t.awaitShells(ctx); err != nil {
			return fail(err)
		}
		t0 := time.Now()
		out, err := t.lambda.Invoke(ctx, in)
		wall := time.Since(t0)
		if err != nil {
			return fail(err)
		}
		if out.FunctionError != nil {
			return fail(fmt.Errorf("function error %s: %s", *out.FunctionError, out.Payload))
		}
		initDur, err := initDuration(aws.ToString(out.LogResult))
		if err != nil {
			return fail(err)
		}
		walls = append(walls, wall)
		inits = append(inits, initDur)
	}
	if err := t.recycle(ctx, fn); err != nil { // free the last environment
		return fail(err)
	}
	slices.Sort(walls)
	slices.Sort(inits)
	return Cold{
		Function:         rt,
		Starts:           n,
		FirstInvokeP50Ms: millis(percentile(walls, 50)),
		FirstInvokeP90Ms: millis(percentile(walls, 90)),
		InitP50Ms:        millis(percentile(inits, 50)),
		InitP90Ms:        millis(percentile(inits, 90)),
	}, nil
}

// initDuration reads "Init Duration: X ms" from a base64 log tail. Its
// absence means the invoke found a warm environment.
func initDuration(logResult string) (time.Duration, error) {
	tail, err := base64.StdEncoding.DecodeString(logResult)
	if err != nil {
		return 0, fmt.Errorf("decode log result: %w", err)
	}
	m := initDurationRE.FindSubmatch(tail)
	if m == nil {
		return 0, fmt.Errorf("no Init Duration in the log tail (was the environment warm?):\n%s", tail)
	}
	ms, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return 0, fmt.Errorf("parse Init Duration %q: %w", m[1], err)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// awaitShells waits (at most 10 s) until an in-process server's sandbox
// shells and stem cells are all ready; for a running server it returns at
// once.
func (t *target) awaitShells(ctx context.Context) error {
	if t.srv == nil {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for !t.srv.Shells().Full() {
		if time.Now().After(deadline) {
			return fmt.Errorf("sandbox shells not ready after 10s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}
