package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"gust/internal/asyncq"
	"gust/internal/config"
	"gust/internal/gusttest"
)

// asyncApp fails when its event says so, unless the function was fixed
// (FIXED set), and logs every event.
const asyncApp = `import os


def handler(event, context):
    print("event", event)
    if event.get("fail") and not os.environ.get("FIXED"):
        raise ValueError("asked to fail")
    return {"ok": True}
`

// connectTo points the client commands at srv through the environment,
// from a directory without server.json.
func connectTo(t *testing.T, srv *gusttest.Server) {
	t.Helper()
	clearConnEnv(t)
	t.Chdir(t.TempDir())
	t.Setenv("GUST_ENDPOINT", srv.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.KeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.Secret)
}

// mustRun runs gust and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	code, out, errOut := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("gust %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

// asyncStats runs `gust async stats NAME --json` and decodes it.
func asyncStats(t *testing.T, name string) asyncq.Stats {
	t.Helper()
	out, _ := mustRun(t, "async", "stats", name, "--json")
	var st asyncq.Stats
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("async stats --json: %v\n%s", err, out)
	}
	return st
}

func TestAsyncAndDeadLetterCommands(t *testing.T) {
	srv := gusttest.StartServer(t, func(c *config.Server) {
		c.AsyncRetryBase = 100 * time.Millisecond
		c.AsyncThrottleBase = 100 * time.Millisecond
	})
	connectTo(t, srv)
	if err := os.WriteFile("app.py", []byte(asyncApp), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "deploy", ".", "--name", "fn", "--runtime", "python3.12", "--handler", "app.handler")
	mustRun(t, "deploy", ".", "--name", "fixed", "--runtime", "python3.12", "--handler", "app.handler", "--env", "FIXED=1")
	ctx := context.Background()
	if _, err := srv.Lambda().UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName:     aws.String("fn"),
		DeadLetterConfig: &types.DeadLetterConfig{TargetArn: aws.String("arn:aws:sqs:us-east-1:000000000000:fn-dlq")},
	}); err != nil {
		t.Fatalf("set dead-letter config: %v", err)
	}

	// --async prints the request id alone on stdout.
	out, errOut := mustRun(t, "invoke", "fn", "--async", "--payload", `{"fail":false}`)
	uuidLine := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$`)
	if !uuidLine.MatchString(out) || errOut != "queued (status 202)\n" {
		t.Fatalf("invoke --async: stdout %q, stderr %q; want a request id and %q", out, errOut, "queued (status 202)\n")
	}
	gusttest.WaitFor(t, 20*time.Second, "the event to succeed", func() bool { return asyncStats(t, "fn").Succeeded == 1 })

	table, _ := mustRun(t, "async", "stats", "fn")
	for _, want := range []string{`(?m)^function: +fn$`, `(?m)^queued: +0$`, `(?m)^oldest event age: +-$`, `(?m)^received: +1$`, `(?m)^succeeded: +1$`, `(?m)^DLQ delivery failures: +0$`} {
		if !regexp.MustCompile(want).MatchString(table) {
			t.Errorf("async stats table lacks %s:\n%s", want, table)
		}
	}

	// A failing event is retried twice, then dead-lettered. The hidden
	// --event still means --async.
	out, _ = mustRun(t, "invoke", "fn", "--event", "--payload", `{"fail":true}`)
	failedID := strings.TrimSpace(out)
	gusttest.WaitFor(t, 30*time.Second, "a dead letter", func() bool {
		out, _ := mustRun(t, "dlq", "ls", "--json")
		return strings.Contains(out, `"Name": "fn-dlq"`)
	})
	out, _ = mustRun(t, "dlq", "ls", "--json")
	var ls struct{ Queues []asyncq.QueueInfo }
	if err := json.Unmarshal([]byte(out), &ls); err != nil {
		t.Fatalf("dlq ls --json: %v\n%s", err, out)
	}
	wantQueues := []asyncq.QueueInfo{{Name: "fn-dlq", QueueArn: "arn:aws:sqs:us-east-1:000000000000:fn-dlq", Messages: 1}}
	if diff := cmp.Diff(wantQueues, ls.Queues); diff != "" {
		t.Errorf("dlq ls --json (-want +got):\n%s", diff)
	}
	out, _ = mustRun(t, "dlq", "ls")
	if !regexp.MustCompile(`(?m)^QUEUE +MESSAGES +ARN\nfn-dlq +1 +arn:aws:sqs:us-east-1:000000000000:fn-dlq$`).MatchString(out) {
		t.Errorf("dlq ls:\n%s", out)
	}
	if st := asyncStats(t, "fn"); st.FunctionErrors != 3 || st.Retried != 2 || st.DeadLettered != 1 {
		t.Errorf("stats after the failure: %+v; want 3 function errors, 2 retries, 1 dead-lettered", st)
	}

	out, _ = mustRun(t, "dlq", "show", "fn-dlq")
	for _, want := range []string{
		`(?m)^message [0-9]+$`,
		`(?m)^  request id: +` + regexp.QuoteMeta(failedID) + `$`,
		`(?m)^  function: +fn$`,
		`(?m)^  kind: +dead-letter$`,
		`(?m)^  condition: +RetriesExhausted$`,
		`(?m)^  error type: +ValueError$`,
		`(?m)^  error message: +asked to fail$`,
		`(?m)^  body: +\{"fail":true\}$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("dlq show lacks %s:\n%s", want, out)
		}
	}
	out, _ = mustRun(t, "dlq", "show", "fn-dlq", "--max", "1", "--json")
	var show struct{ Messages []asyncq.DeadLetter }
	if err := json.Unmarshal([]byte(out), &show); err != nil || len(show.Messages) != 1 {
		t.Fatalf("dlq show --json: %v, %d messages\n%s", err, len(show.Messages), out)
	}
	if m := show.Messages[0]; m.RequestID != failedID || m.ErrorType != "ValueError" || !jsonSame(t, string(m.Body), `{"fail":true}`) {
		t.Errorf("dlq show --json message = %+v", m)
	}

	// Server errors come back by exception name, with exit status 1.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"async", "stats", "nope"}, "gust: ResourceNotFoundException: Function not found: "},
		{[]string{"dlq", "show", "bad.name"}, "gust: InvalidParameterValueException: Invalid queue name"},
		{[]string{"dlq", "redrive", "bad.name"}, "gust: InvalidParameterValueException: Redrive stopped after 0 messages: Invalid queue name"},
	} {
		code, _, errOut := runCLI(t, "", tt.args...)
		if code != 1 || !strings.HasPrefix(errOut, tt.want) {
			t.Errorf("gust %s: exit %d, stderr %q; want 1 and %q", strings.Join(tt.args, " "), code, errOut, tt.want)
		}
	}

	// Redrive to the fixed function empties the queue; the event runs there.
	out, _ = mustRun(t, "dlq", "redrive", "fn-dlq", "--to", "fixed")
	if out != "redriven 1\n" {
		t.Errorf("dlq redrive: stdout %q, want %q", out, "redriven 1\n")
	}
	gusttest.WaitFor(t, 20*time.Second, "the redriven event to succeed", func() bool { return asyncStats(t, "fixed").Succeeded == 1 })
	out, errOut = mustRun(t, "dlq", "ls")
	if out != "" || errOut != "no dead-letter messages\n" {
		t.Errorf("dlq ls after redrive: stdout %q, stderr %q", out, errOut)
	}
	out, _ = mustRun(t, "dlq", "ls", "--json")
	if !jsonSame(t, out, `{"Queues":[]}`) {
		t.Errorf("dlq ls --json after redrive: %s", out)
	}
}

func TestGustClientWrongKey(t *testing.T) {
	srv := gusttest.StartServer(t)
	connectTo(t, srv)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	code, _, errOut := runCLI(t, "", "dlq", "ls")
	if code != 1 || !strings.HasPrefix(errOut, "gust: InvalidSignatureException: ") {
		t.Errorf("dlq ls with a wrong secret: exit %d, stderr %q; want 1 and an InvalidSignatureException", code, errOut)
	}
}

func TestDecodeGustError(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header string
		body   string
		want   GustAPIError
		fault  smithy.ErrorFault
	}{
		{"lambda shape", 404, "ResourceNotFoundException", `{"Type":"User","Message":"Function not found: x"}`,
			GustAPIError{404, "ResourceNotFoundException", "Function not found: x"}, smithy.FaultClient},
		{"lowercase message and suffixed header", 400, "InvalidParameterValueException:http://internal.amazon.com/", `{"Type":"User","message":"bad"}`,
			GustAPIError{400, "InvalidParameterValueException", "bad"}, smithy.FaultClient},
		{"json 1.1 shape without header", 500, "", `{"__type":"com.amazon#ServiceException","message":"boom"}`,
			GustAPIError{500, "ServiceException", "boom"}, smithy.FaultServer},
		{"not json", 502, "", "Bad Gateway from a proxy\n",
			GustAPIError{502, "Bad Gateway", "Bad Gateway from a proxy"}, smithy.FaultServer},
		{"empty", 503, "", "",
			GustAPIError{503, "Service Unavailable", "503 Service Unavailable"}, smithy.FaultServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{
				StatusCode: tt.status,
				Status:     strconv.Itoa(tt.status) + " " + http.StatusText(tt.status),
				Header:     http.Header{},
				Body:       io.NopCloser(strings.NewReader(tt.body)),
			}
			if tt.header != "" {
				resp.Header.Set("X-Amzn-ErrorType", tt.header)
			}
			err := decodeGustError(resp)
			ge, ok := err.(*GustAPIError)
			if !ok {
				t.Fatalf("decodeGustError = %T %v, want *GustAPIError", err, err)
			}
			if diff := cmp.Diff(tt.want, *ge); diff != "" {
				t.Errorf("decodeGustError (-want +got):\n%s", diff)
			}
			if ge.ErrorFault() != tt.fault {
				t.Errorf("fault = %v, want %v", ge.ErrorFault(), tt.fault)
			}
			if got, want := describeError(err), tt.want.Code+": "+tt.want.Message; got != want {
				t.Errorf("describeError = %q, want %q", got, want)
			}
		})
	}
}

func TestPrintDeadLetterOmitsEmptyLines(t *testing.T) {
	var b strings.Builder
	m := asyncq.DeadLetter{
		Sequence: 7, Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Kind: "destination",
		RequestID: "rid", Function: "fn", Qualifier: "live", Condition: "EventAgeExceeded",
		Body: json.RawMessage("{\n  \"a\": 1\n}"),
	}
	if err := printDeadLetter(&b, m); err != nil {
		t.Fatal(err)
	}
	want := "message 7\n" +
		"  time:       2025-01-02T03:04:05Z\n" +
		"  kind:       destination\n" +
		"  request id: rid\n" +
		"  function:   fn:live\n" +
		"  condition:  EventAgeExceeded\n" +
		"  body:       {\"a\":1}\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("printDeadLetter (-want +got):\n%s", diff)
	}
}

func jsonSame(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	return cmp.Equal(g, w)
}
