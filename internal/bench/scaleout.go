package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"gust/internal/bench/echo"
)

// measureScaleOut stops the go function's environments, then sends n
// invokes at once, each holding its environment for hold, so every one
// needs an environment of its own. Each handler reports when it started;
// the figures run from the moment the invokes are released.
func measureScaleOut(ctx context.Context, t *target, n int, hold time.Duration) (*ScaleOut, error) {
	fn := functionName(RuntimeGo)
	fail := func(err error) (*ScaleOut, error) { return nil, fmt.Errorf("bench: scale-out of %d: %w", n, err) }
	if err := checkConcurrency(ctx, t, n); err != nil {
		return fail(err)
	}
	if err := t.recycle(ctx, fn); err != nil {
		return fail(err)
	}

	payload := fmt.Appendf(nil, `{"hold_ms":%d}`, hold.Milliseconds())
	type result struct {
		held     echo.Held
		returned time.Time
		err      error
	}
	results := make([]result, n)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-release
			r := &results[i]
			out, err := t.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: payload})
			r.returned = time.Now()
			switch {
			case err != nil:
				r.err = err
			case out.FunctionError != nil:
				r.err = fmt.Errorf("function error %s: %s", *out.FunctionError, out.Payload)
			default:
				if err := json.Unmarshal(out.Payload, &r.held); err != nil || r.held.Started == 0 {
					r.err = fmt.Errorf("answer %q has no handler start time (is the go bootstrap the bench's echo function?)", out.Payload)
				}
			}
		})
	}
	first := time.Now()
	close(release)
	wg.Wait()

	var errs []error
	envs := map[string]bool{}
	var starts []time.Time
	var lastReturn time.Time
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		envs[r.held.Env] = true
		starts = append(starts, time.Unix(0, r.held.Started))
		if r.returned.After(lastReturn) {
			lastReturn = r.returned
		}
	}
	if len(errs) > 0 {
		return fail(fmt.Errorf("%d of %d invokes failed, the first: %w", len(errs), n, errs[0]))
	}
	if err := t.recycle(ctx, fn); err != nil { // free the n environments
		return fail(err)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	return &ScaleOut{
		Invokes:       n,
		HoldMs:        hold.Milliseconds(),
		Environments:  len(envs),
		FirstStartMs:  millis(starts[0].Sub(first)),
		MedianStartMs: millis(starts[len(starts)/2].Sub(first)),
		LastStartMs:   millis(starts[len(starts)-1].Sub(first)),
		AllReturnedMs: millis(lastReturn.Sub(first)),
	}, nil
}

// checkConcurrency makes sure the server runs n invokes of the go function
// at once: the account's unreserved concurrency (the go function reserves
// none) must be at least n.
func checkConcurrency(ctx context.Context, t *target, n int) error {
	fn := functionName(RuntimeGo)
	c, err := t.lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(fn)})
	if err != nil {
		return fmt.Errorf("get %s concurrency: %w", fn, err)
	}
	if c.ReservedConcurrentExecutions != nil {
		if r := int(*c.ReservedConcurrentExecutions); r < n {
			return fmt.Errorf("%s reserves %d concurrent executions, fewer than %d", fn, r, n)
		}
		return nil
	}
	s, err := t.lambda.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		return fmt.Errorf("get account settings: %w", err)
	}
	if s.AccountLimit == nil || s.AccountLimit.UnreservedConcurrentExecutions == nil {
		return errors.New("the server reported no account concurrency limit")
	}
	if u := int(*s.AccountLimit.UnreservedConcurrentExecutions); u < n {
		return fmt.Errorf("the server allows %d unreserved concurrent executions (of %d), fewer than %d: start it with a larger --max-concurrency or bench with a smaller --scale-out",
			u, s.AccountLimit.ConcurrentExecutions, n)
	}
	return nil
}
