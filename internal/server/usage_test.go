package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/google/go-cmp/cmp"

	"gust/internal/gusttest"
	"gust/internal/usage"
)

// usageFn is a Python function that fails on "fail" and sleeps "sleep"
// seconds first.
const usageFn = `import time


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
`

// usageReport matches a REPORT line anywhere in a log tail.
var usageReport = regexp.MustCompile(`(?m)^REPORT RequestId: (\S+)\tDuration: [\d.]+ ms\tBilled Duration: (\d+) ms\tMemory Size: (\d+) MB\t`)

// usageCall is GET /_gust/v1/usage with query, signed as the root.
func usageCall(t *testing.T, s *gusttest.Server, query url.Values) (int, []byte) {
	t.Helper()
	status, _, body := iamCall(t, s, iamRootCreds(s), http.MethodGet, "/_gust/v1/usage?"+query.Encode(), nil)
	return status, body
}

func usageRows(t *testing.T, s *gusttest.Server, since time.Time, by string) []usage.Row {
	t.Helper()
	status, body := usageCall(t, s, url.Values{"since": {since.Format(time.RFC3339)}, "by": {by}})
	if status != http.StatusOK {
		t.Fatalf("GET /_gust/v1/usage by %s: status %d: %s", by, status, body)
	}
	var ans struct {
		By   string
		Rows []usage.Row
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.By != by || ans.Rows == nil {
		t.Fatalf("usage answer %s: %v", body, err)
	}
	return ans.Rows
}

func TestUsageEqualsTheReportLines(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	since := time.Now().Add(-time.Second).Truncate(time.Second)
	createFunction(t, c, "py", types.RuntimePython312, "app.handler", gusttest.Zip(t, map[string]string{"app.py": usageFn}),
		withTimeout(1), func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(320) })
	createFunction(t, c, "go", types.RuntimeProvidedal2023, "bootstrap", goFunctionZip(t), withTimeout(1),
		func(in *lambda.CreateFunctionInput) { in.Architectures = []types.Architecture{types.ArchitectureArm64} })
	createFunction(t, c, "broken", types.RuntimePython312, "app.handler", gusttest.Zip(t, map[string]string{"app.py": "import no_such_module\n"}))

	// Per function: what its REPORT lines add up to.
	type sums struct{ requests, errors, billed, mbMs int64 }
	reported := map[string]*sums{}
	for _, call := range []struct {
		fn, payload string
		wantError   string // X-Amz-Function-Error, "" for none
	}{
		{"py", `{}`, ""}, // cold
		{"py", `{}`, ""}, // warm
		{"py", `{"fail":true}`, "Unhandled"},
		{"py", `{"sleep":3}`, "Unhandled"}, // timeout
		{"py", `{}`, ""},                   // cold again
		{"go", `{}`, ""},                   // cold
		{"go", `{"action":"sleep","ms":5}`, ""},
		{"go", `{"action":"error"}`, "Unhandled"},
		{"go", `{"action":"sleep","ms":3000}`, "Unhandled"}, // timeout
		{"go", `{}`, ""},                                    // cold again
		{"broken", `{}`, "Unhandled"},                       // a failed init, billed too
	} {
		inv := invokeTail(t, c, call.fn, call.payload)
		if got := aws.ToString(inv.FunctionError); got != call.wantError {
			t.Fatalf("invoke %s %s: FunctionError %q, want %q: %s", call.fn, call.payload, got, call.wantError, inv.Payload)
		}
		lines := usageReport.FindAllStringSubmatch(inv.Log, -1)
		if len(lines) != 1 || lines[0][1] != inv.RequestID {
			t.Fatalf("invoke %s %s: want one REPORT line for %s in\n%s", call.fn, call.payload, inv.RequestID, inv.Log)
		}
		billed, _ := strconv.ParseInt(lines[0][2], 10, 64)
		mb, _ := strconv.ParseInt(lines[0][3], 10, 64)
		r := reported[call.fn]
		if r == nil {
			r = &sums{}
			reported[call.fn] = r
		}
		r.requests++
		r.billed += billed
		r.mbMs += billed * mb
		if call.wantError != "" {
			r.errors++
		}
	}
	// A throttled request runs nothing and is not billed.
	if _, err := c.PutFunctionConcurrency(t.Context(), &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("py"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String("py")}); err == nil {
		t.Fatal("invoke with reserved concurrency 0 succeeded, want a throttle")
	}

	var want []usage.Row
	var all sums
	for _, fn := range []string{"broken", "go", "py"} {
		r := reported[fn]
		row := usage.Row{Function: fn, Requests: r.requests, Errors: r.errors, BilledMs: r.billed, GBSeconds: float64(r.mbMs) / 1024000}
		if fn == "go" {
			row.GBSecondsArm64 = row.GBSeconds
		}
		want = append(want, row)
		all.requests, all.errors, all.billed, all.mbMs = all.requests+r.requests, all.errors+r.errors, all.billed+r.billed, all.mbMs+r.mbMs
	}
	if diff := cmp.Diff(want, usageRows(t, s, since, usage.ByFunction)); diff != "" {
		t.Errorf("usage by function differs from the REPORT lines (-REPORT +usage):\n%s", diff)
	}
	today := []usage.Row{{Day: time.Now().UTC().Format(time.DateOnly), Requests: all.requests, Errors: all.errors,
		BilledMs: all.billed, GBSeconds: float64(all.mbMs) / 1024000, GBSecondsArm64: float64(reported["go"].mbMs) / 1024000}}
	if diff := cmp.Diff(today, usageRows(t, s, since, usage.ByDay)); diff != "" {
		t.Errorf("usage by day differs from the REPORT lines (-REPORT +usage):\n%s", diff)
	}
	if rows := usageRows(t, s, time.Now().Add(time.Hour), usage.ByFunction); len(rows) != 0 {
		t.Errorf("usage since an hour ahead = %+v, want no rows", rows)
	}
	if st := s.Usage().Stats(); st.Dropped != 0 || st.Published != uint64(all.requests) {
		t.Errorf("meter stats %+v, want %d published and none dropped", st, all.requests)
	}

	for _, bad := range []url.Values{{"by": {"week"}}, {"since": {"yesterday"}}} {
		status, body := usageCall(t, s, bad)
		var e struct{ Type, Message string }
		_ = json.Unmarshal(body, &e)
		if status != http.StatusBadRequest || e.Message == "" {
			t.Errorf("usage?%s: status %d %s, want 400 InvalidParameterValueException", bad.Encode(), status, body)
		}
	}
}
