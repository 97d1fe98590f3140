package runtimeapi

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// buildEchofn builds testdata/echofn, a function made with aws-lambda-go.
func buildEchofn(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command(gobin, "build", "-o", bin, "./testdata/echofn")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build echofn: %v\n%s", err, out)
	}
	return bin
}

func TestAWSLambdaGoFunction(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a function")
	}
	bin := buildEchofn(t)
	s := startServer(t, Options{})

	var logs bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + s.Addr()}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start echofn: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("function output:\n%s", logs.String())
		}
	})
	if err := s.WaitReady(ctxTimeout(t)); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}

	const arn = "arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST"
	tests := []struct {
		name     string
		event    string
		wantType string
		want     map[string]any // nil: the echo reply, checked separately
	}{
		{"cold", `{"hello":"world"}`, "", nil},
		{"warm", `{"hello":"again"}`, "", nil},
		{"handler error", `{"fail":"boom"}`, "Runtime.Unknown", map[string]any{"errorMessage": "boom", "errorType": "errorString"}},
		{"error mid-stream", `{"stream":"broke"}`, "Runtime.Unknown", map[string]any{"errorMessage": "broke", "errorType": "errorString"}},
		{"reused after errors", `[1,2]`, "", nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "00000000-0000-0000-0000-00000000000" + string(rune('0'+i))
			deadline := time.Now().Add(time.Minute).Truncate(time.Millisecond)
			res, err := s.Invoke(ctxTimeout(t), Invocation{
				RequestID: id, Payload: []byte(tt.event), Deadline: deadline, InvokedFunctionARN: arn,
			})
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if res.ErrorType != tt.wantType {
				t.Errorf("ErrorType = %q, want %q (payload %s)", res.ErrorType, tt.wantType, res.Payload)
			}
			var got map[string]any
			if err := json.Unmarshal(res.Payload, &got); err != nil {
				t.Fatalf("payload %q: %v", res.Payload, err)
			}
			want := tt.want
			if want == nil {
				var ev any
				_ = json.Unmarshal([]byte(tt.event), &ev)
				want = map[string]any{
					"requestId": id, "functionArn": arn,
					"deadlineMs": float64(deadline.UnixMilli()), "event": ev,
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}
