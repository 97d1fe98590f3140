package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/config"
	"gust/internal/gusttest"
)

// This file checks reserved concurrency (PutFunctionConcurrency and its
// siblings): the wire shapes, the account's unreserved minimum, and that
// invocations are held to the reservation exactly.

// gatePy is a Python function that, given {"gate": url}, runs until a GET
// of that URL answers, so a test can hold invocations in flight without
// sleeping.
const gatePy = `import urllib.request

def handler(event, context):
    gate = (event or {}).get("gate")
    if gate:
        urllib.request.urlopen(gate, timeout=55).read()
    return {"ok": True}
`

// gateServer is an HTTP server on loopback whose answers wait until the test
// opens it. Functions reach it in both sandboxes (a file on the host would
// be out of a linux-sandboxed function's sight).
type gateServer struct {
	srv  *httptest.Server
	open chan struct{}
	once sync.Once
}

func newGate(t *testing.T) *gateServer {
	t.Helper()
	g := &gateServer{open: make(chan struct{})}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-g.open:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(g.srv.Close)
	t.Cleanup(g.release) // runs first: Close waits for held requests
	return g
}

// release opens the gate: held and later GETs answer at once.
func (g *gateServer) release() { g.once.Do(func() { close(g.open) }) }

func createGateFunction(t *testing.T, c *lambda.Client, name string) {
	t.Helper()
	createFunction(t, c, name, types.RuntimePython312, "app.handler",
		gusttest.Zip(t, map[string]string{"app.py": gatePy}), withTimeout(60))
}

// reservedOf is GetFunctionConcurrency's answer; nil when none is set.
func reservedOf(t *testing.T, c *lambda.Client, name string) *int32 {
	t.Helper()
	out, err := c.GetFunctionConcurrency(context.Background(), &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("GetFunctionConcurrency(%s): %v", name, err)
	}
	return out.ReservedConcurrentExecutions
}

func reserve(c *lambda.Client, name string, n int32) (*lambda.PutFunctionConcurrencyOutput, error) {
	return c.PutFunctionConcurrency(context.Background(), &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(n)})
}

func mustPutReserved(t *testing.T, c *lambda.Client, name string, n int32) {
	t.Helper()
	out, err := reserve(c, name, n)
	if err != nil {
		t.Fatalf("PutFunctionConcurrency(%s, %d): %v", name, n, err)
	}
	if got := aws.ToInt32(out.ReservedConcurrentExecutions); out.ReservedConcurrentExecutions == nil || got != n {
		t.Fatalf("PutFunctionConcurrency(%s, %d) answered %v", name, n, out.ReservedConcurrentExecutions)
	}
}

// unreserved is GetAccountSettings' AccountLimit.UnreservedConcurrentExecutions.
func unreserved(t *testing.T, c *lambda.Client) int32 {
	t.Helper()
	out, err := c.GetAccountSettings(context.Background(), &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatalf("GetAccountSettings: %v", err)
	}
	return aws.ToInt32(out.AccountLimit.UnreservedConcurrentExecutions)
}

// wantReservedThrottle asserts err is the 429 of a function over its
// reserved concurrency.
func wantReservedThrottle(t *testing.T, err error) {
	t.Helper()
	var tm *types.TooManyRequestsException
	if !errors.As(err, &tm) {
		t.Fatalf("err = %v, want TooManyRequestsException", err)
	}
	if tm.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
		t.Errorf("Reason = %q, want %q", tm.Reason, types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded)
	}
	if aws.ToString(tm.Message) != "Rate Exceeded." {
		t.Errorf("Message = %q, want %q", aws.ToString(tm.Message), "Rate Exceeded.")
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusTooManyRequests {
		t.Errorf("err = %v, want HTTP 429", err)
	}
}

func invokeGate(c *lambda.Client, name, gate string) (*lambda.InvokeOutput, error) {
	payload := `{}`
	if gate != "" {
		payload = `{"gate":"` + gate + `"}`
	}
	return c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload)})
}

func mustInvokeGate(t *testing.T, c *lambda.Client, name string) {
	t.Helper()
	out, err := invokeGate(c, name, "")
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	if out.FunctionError != nil {
		t.Fatalf("invoke %s: %s: %s", name, aws.ToString(out.FunctionError), out.Payload)
	}
}

func TestReservedConcurrencyWire(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	cpCreate(t, c, "rc", cpNodeZip(t, "A"), nil)
	path := "/2017-10-31/functions/rc/concurrency"
	getPath := "/2019-09-30/functions/rc/concurrency"

	// None set: an empty object, and no Concurrency in GetFunction.
	if r := cpRaw(t, s, "GET", getPath, nil); r.status != http.StatusOK || string(r.body) != `{}` {
		t.Errorf("GetFunctionConcurrency before any put: %d %s, want 200 {}", r.status, r.body)
	}
	if out, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("rc")}); err != nil || out.Concurrency != nil {
		t.Errorf("GetFunction before any put: Concurrency %+v, %v; want none", out.Concurrency, err)
	}

	if r := cpRaw(t, s, "PUT", path, []byte(`{"ReservedConcurrentExecutions":5}`)); r.status != http.StatusOK || string(r.body) != `{"ReservedConcurrentExecutions":5}` {
		t.Errorf("PutFunctionConcurrency: %d %s, want 200 {\"ReservedConcurrentExecutions\":5}", r.status, r.body)
	}
	if r := cpRaw(t, s, "GET", getPath, nil); string(r.body) != `{"ReservedConcurrentExecutions":5}` {
		t.Errorf("GetFunctionConcurrency: %d %s", r.status, r.body)
	}
	// Every FunctionName form names the function.
	for _, name := range []string{"rc", cpARN + "rc", cpAccount + ":function:rc"} {
		if got := reservedOf(t, c, name); aws.ToInt32(got) != 5 {
			t.Errorf("GetFunctionConcurrency(%s) = %v, want 5", name, got)
		}
	}
	// GetFunction reports it, for $LATEST named either way.
	for _, q := range []*string{nil, aws.String("$LATEST")} {
		out, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("rc"), Qualifier: q})
		if err != nil || out.Concurrency == nil || aws.ToInt32(out.Concurrency.ReservedConcurrentExecutions) != 5 {
			t.Errorf("GetFunction(Qualifier %v).Concurrency = %+v, %v; want 5", aws.ToString(q), out.Concurrency, err)
		}
	}
	// Zero is a reservation, not "none".
	mustPutReserved(t, c, cpARN+"rc", 0)
	if got := reservedOf(t, c, "rc"); got == nil || *got != 0 {
		t.Errorf("GetFunctionConcurrency after put 0 = %v, want 0", got)
	}
	if r := cpRaw(t, s, "GET", "/2015-03-31/functions/rc", nil); !jsonHas(t, r.body, "Concurrency", `{"ReservedConcurrentExecutions":0}`) {
		t.Errorf("GetFunction body lacks Concurrency {ReservedConcurrentExecutions:0}: %s", r.body)
	}

	// Delete: 204 with no body, idempotent; then none again.
	for i := range 2 {
		if r := cpRaw(t, s, "DELETE", path, nil); r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Errorf("DeleteFunctionConcurrency #%d: %d %q, want 204 and no body", i+1, r.status, r.body)
		}
	}
	if _, err := c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("rc")}); err != nil {
		t.Errorf("SDK DeleteFunctionConcurrency: %v", err)
	}
	if got := reservedOf(t, c, "rc"); got != nil {
		t.Errorf("GetFunctionConcurrency after delete = %d, want none", *got)
	}
	if out, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("rc")}); err != nil || out.Concurrency != nil {
		t.Errorf("GetFunction after delete: Concurrency %+v, %v; want none", out.Concurrency, err)
	}
}

// jsonHas reports whether the JSON object body has member key equal to want.
func jsonHas(t *testing.T, body []byte, key, want string) bool {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	return string(m[key]) == want
}

func TestReservedConcurrencyErrors(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	cpCreate(t, c, "rc", cpNodeZip(t, "A"), nil)
	const qualified = "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN."

	// Unknown functions.
	_, err := reserve(c, "nope", 1)
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+cpARN+"nope:$LATEST")
	_, err = c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("nope")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+cpARN+"nope")
	_, err = c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("nope")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+cpARN+"nope")
	_, err = reserve(c, "arn:aws:lambda:eu-west-1:000000000000:function:rc", 1)
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found")

	// Reserved concurrency is the whole function's: a version or alias is refused.
	for _, name := range []string{"rc:$LATEST", "rc:1", cpARN + "rc:prod"} {
		_, err = reserve(c, name, 1)
		cpWantErr(t, err, "InvalidParameterValueException", 400, qualified)
		_, err = c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(name)})
		cpWantErr(t, err, "InvalidParameterValueException", 400, qualified)
		_, err = c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String(name)})
		cpWantErr(t, err, "InvalidParameterValueException", 400, qualified)
	}

	// The value must be there and not negative.
	_, err = reserve(c, "rc", -1)
	cpWantErr(t, err, "InvalidParameterValueException", 400, "Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0")
	r := cpRaw(t, s, "PUT", "/2017-10-31/functions/rc/concurrency", []byte(`{}`))
	if r.status != 400 || r.errorCode() != "InvalidParameterValueException" || r.message(t) != "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must not be null" {
		t.Errorf("put without a value: %d %s %s", r.status, r.errorCode(), r.body)
	}
	if got := reservedOf(t, c, "rc"); got != nil {
		t.Errorf("a refused put stored %d", *got)
	}
}

func TestReservedConcurrencyAccountMinimum(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	zip := cpNodeZip(t, "A")
	for _, n := range []string{"a", "b"} {
		cpCreate(t, c, n, zip, nil)
	}
	const below = "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100]."
	if got := unreserved(t, c); got != 1000 {
		t.Errorf("Unreserved with no reservations = %d, want 1000", got)
	}
	_, err := reserve(c, "a", 901)
	cpWantErr(t, err, "InvalidParameterValueException", 400, below)
	_, err = reserve(c, "a", 5000)
	cpWantErr(t, err, "InvalidParameterValueException", 400, below)
	mustPutReserved(t, c, "a", 900)
	if got := unreserved(t, c); got != 100 {
		t.Errorf("Unreserved after reserving 900 = %d, want 100", got)
	}
	// Nothing is left for b, but a may set its own again: its old value
	// does not count against it.
	_, err = reserve(c, "b", 1)
	cpWantErr(t, err, "InvalidParameterValueException", 400, below)
	mustPutReserved(t, c, "a", 900)
	mustPutReserved(t, c, "b", 0)
	mustPutReserved(t, c, "a", 850)
	mustPutReserved(t, c, "b", 50)
	out, err := c.GetAccountSettings(context.Background(), &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if l := out.AccountLimit; l.ConcurrentExecutions != 1000 || aws.ToInt32(l.UnreservedConcurrentExecutions) != 100 {
		t.Errorf("AccountLimit = %d total, %d unreserved; want 1000 and 100", l.ConcurrentExecutions, aws.ToInt32(l.UnreservedConcurrentExecutions))
	}
	if _, err := c.DeleteFunctionConcurrency(context.Background(), &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	if got := unreserved(t, c); got != 950 {
		t.Errorf("Unreserved after deleting a's 850 = %d, want 950", got)
	}

	// An account smaller than the minimum keeps all of it, as Lambda's
	// 10- and 50-execution accounts do, and the message names that limit.
	small := gusttest.StartServer(t, func(c *config.Server) { c.MaxConcurrency = 50 })
	sc := small.Lambda()
	cpCreate(t, sc, "a", zip, nil)
	_, err = reserve(sc, "a", 1)
	cpWantErr(t, err, "InvalidParameterValueException", 400, "below its minimum value of [50].")
	mustPutReserved(t, sc, "a", 0)
	if got := unreserved(t, sc); got != 50 {
		t.Errorf("Unreserved on a 50-execution account = %d, want 50", got)
	}
}

func TestReservedConcurrencyZeroThrottles(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	createGateFunction(t, c, "off")
	createGateFunction(t, c, "on")
	mustPutReserved(t, c, "off", 0)
	for range 3 {
		_, err := invokeGate(c, "off", "")
		wantReservedThrottle(t, err)
	}
	if st := s.Pool().Stats(); st.Total != 0 || st.Busy != 0 {
		t.Errorf("stats after throttled invokes = %+v, want no environment started", st)
	}
	mustInvokeGate(t, c, "on") // others are not affected
	if _, err := c.DeleteFunctionConcurrency(context.Background(), &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("off")}); err != nil {
		t.Fatal(err)
	}
	mustInvokeGate(t, c, "off")
}

func TestReservedConcurrencyInFlight(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	createGateFunction(t, c, "two")
	createGateFunction(t, c, "free")
	mustPutReserved(t, c, "two", 2)
	gate := newGate(t)

	var wg sync.WaitGroup
	results := make(chan error, 2)
	for range 2 {
		wg.Go(func() {
			out, err := invokeGate(c, "two", gate.srv.URL)
			if err == nil && out.FunctionError != nil {
				err = errors.New("function error: " + string(out.Payload))
			}
			results <- err
		})
	}
	gusttest.WaitFor(t, 30*time.Second, "two invocations in flight", func() bool { return s.Pool().Stats().Busy == 2 })

	// A third is over the reservation; another function is not.
	_, err := invokeGate(c, "two", "")
	wantReservedThrottle(t, err)
	mustInvokeGate(t, c, "free")
	_, err = invokeGate(c, "two", "")
	wantReservedThrottle(t, err)

	gate.release()
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("held invocation: %v", err)
		}
	}
	if st := s.Pool().Stats(); st.Busy != 0 {
		t.Errorf("busy after the held invocations ended = %d", st.Busy)
	}
	// Both slots are free again: two at once run (on the warm environments).
	var again sync.WaitGroup
	for range 2 {
		again.Go(func() {
			if out, err := invokeGate(c, "two", ""); err != nil || out.FunctionError != nil {
				t.Errorf("invoke after release: %v", err)
			}
		})
	}
	again.Wait()
}

func TestReservedConcurrencyRestartAndDelete(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	createGateFunction(t, c, "p")
	mustPutReserved(t, c, "p", 0)

	s = s.Restart(t)
	c = s.Lambda()
	if got := reservedOf(t, c, "p"); got == nil || *got != 0 {
		t.Fatalf("GetFunctionConcurrency after restart = %v, want 0", got)
	}
	// Enforced from the first invoke after the restart.
	_, err := invokeGate(c, "p", "")
	wantReservedThrottle(t, err)
	if got := unreserved(t, c); got != 1000 {
		t.Errorf("Unreserved = %d, want 1000 (a reservation of 0)", got)
	}
	mustPutReserved(t, c, "p", 300)
	if got := unreserved(t, c); got != 700 {
		t.Errorf("Unreserved = %d, want 700", got)
	}

	// DeleteFunction takes the reservation with it, in the store and in
	// the pool, and a function re-created under the name has none.
	if _, err := c.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String("p")}); err != nil {
		t.Fatal(err)
	}
	if got := unreserved(t, c); got != 1000 {
		t.Errorf("Unreserved after DeleteFunction = %d, want 1000", got)
	}
	gusttest.WaitFor(t, 10*time.Second, "the pool to drop the deleted function's reservation", func() bool {
		_, ok := s.Pool().Reserved("p")
		return !ok
	})
	createGateFunction(t, c, "p")
	if got := reservedOf(t, c, "p"); got != nil {
		t.Errorf("re-created function has reservation %d", *got)
	}
	mustInvokeGate(t, c, "p")
}
