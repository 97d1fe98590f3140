package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestAWSCLIFilterLogEvents drives the handler with the real AWS CLI, whose
// paginator stops only when nextToken is absent.
func TestAWSCLIFilterLogEvents(t *testing.T) {
	awsPath, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not on PATH")
	}
	if testing.Short() {
		t.Skip("starts the AWS CLI; slow")
	}
	s := openTestStore(t, t.TempDir(), 0)
	var want []string
	for i := range 12 {
		m := fmt.Sprintf("START RequestId: %d\tline with\ttabs", i)
		want = append(want, m)
		stream := streamA
		if i%3 == 0 {
			stream = streamB
		}
		s.Append("/aws/lambda/x", stream, Event{Timestamp: int64(1700000000000 + i), Message: m})
	}
	var calls atomic.Int32
	h := s.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "Logs_20140328.FilterLogEvents" {
			calls.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	url := srv.URL

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, awsPath, "logs", "filter-log-events",
		"--log-group-name", "/aws/lambda/x",
		"--endpoint-url", url,
		"--page-size", "5", // forces three calls with nextToken
		"--output", "json")
	cmd.Env = append(cmd.Environ(),
		"HOME="+home,
		"AWS_CONFIG_FILE="+filepath.Join(home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"),
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=secret",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_PAGER=",
	)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("aws logs filter-log-events: %v\n%s", err, stderr)
	}
	var got struct {
		Events []struct {
			LogStreamName string `json:"logStreamName"`
			Message       string `json:"message"`
			EventID       string `json:"eventId"`
		} `json:"events"`
		NextToken *string `json:"nextToken"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("CLI output: %v\n%s", err, out)
	}
	var msgs []string
	for _, e := range got.Events {
		msgs = append(msgs, e.Message)
		if e.LogStreamName == "" || e.EventID == "" {
			t.Errorf("event missing stream or id: %+v", e)
		}
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("CLI events (-want +got):\n%s", diff)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("CLI made %d FilterLogEvents calls, want 3 (12 events, page size 5)", n)
	}
	if got.NextToken != nil {
		t.Errorf("CLI printed nextToken %q after paginating everything", *got.NextToken)
	}
}
