package sigv4

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gust/internal/lambda"
)

// awsCLIs returns the distinct real AWS CLI binaries on this machine: the
// one on PATH (v1 here) and /usr/bin/aws (v2 when installed).
func awsCLIs() []string {
	var out []string
	seen := map[string]bool{}
	candidates := []string{"/usr/bin/aws"}
	if p, err := exec.LookPath("aws"); err == nil {
		candidates = append([]string{p}, candidates...)
	}
	for _, c := range candidates {
		real, err := filepath.EvalSymlinks(c)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		out = append(out, c)
	}
	return out
}

// drain returns every verify result the server has reported so far.
func (s *verifyServer) drain() []verifyResult {
	var out []verifyResult
	for {
		select {
		case r := <-s.results:
			out = append(out, r)
		default:
			return out
		}
	}
}

// TestAWSCLI drives the real aws CLI (v1 and v2 when present) against a
// server that verifies every request.
func TestAWSCLI(t *testing.T) {
	clis := awsCLIs()
	if len(clis) == 0 {
		t.Skip("no aws CLI installed")
	}
	if testing.Short() {
		t.Skip("slow: runs the aws CLI")
	}
	for _, cli := range clis {
		version, err := exec.Command(cli, "--version").CombinedOutput()
		if err != nil {
			t.Logf("skipping %s: --version: %v: %s", cli, err, version)
			continue
		}
		v2 := bytes.HasPrefix(version, []byte("aws-cli/2"))
		name := "v1"
		if v2 {
			name = "v2"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := testVerifier()
			v.Now = nil // the CLI signs with the real clock
			srv := startVerifyServer(t, v)
			home := t.TempDir()
			run := func(secret string, args ...string) (string, int) {
				t.Helper()
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a hung CLI fails the test instead of stalling it
				defer cancel()
				cmd := exec.CommandContext(ctx, cli, append(args, "--endpoint-url", srv.URL, "--region", "us-east-1")...)
				cmd.Dir = home
				cmd.Env = cliEnv(home, secret)
				out, err := cmd.CombinedOutput()
				var exit *exec.ExitError
				switch {
				case err == nil:
					return string(out), 0
				case errors.As(err, &exit):
					return string(out), exit.ExitCode()
				default:
					t.Fatalf("run %s: %v", cli, err)
					return "", -1
				}
			}
			verified := func(t *testing.T) verifyResult {
				t.Helper()
				rs := srv.drain()
				if len(rs) == 0 {
					t.Fatal("server saw no request")
				}
				for _, r := range rs {
					if r.err != nil {
						t.Fatalf("Verify rejected the CLI's request to %s: %v", r.path, r.err)
					}
				}
				return rs[len(rs)-1]
			}

			t.Run("list-functions", func(t *testing.T) {
				out, code := run(testSecret, "lambda", "list-functions")
				if code != 0 {
					t.Fatalf("exit %d: %s", code, out)
				}
				verified(t)
				if !strings.Contains(out, "Functions") {
					t.Errorf("output lacks Functions: %s", out)
				}
			})
			t.Run("get-function qualified ARN", func(t *testing.T) {
				out, code := run(testSecret, "lambda", "get-function", "--function-name", "arn:aws:lambda:us-east-1:000000000000:function:x:$LATEST")
				if code != 0 {
					t.Fatalf("exit %d: %s", code, out)
				}
				r := verified(t)
				if !strings.Contains(r.path, "%3A") || !strings.Contains(r.path, "%24LATEST") {
					t.Errorf("path %q was not percent-encoded as expected", r.path)
				}
			})
			t.Run("invoke with payload", func(t *testing.T) {
				payload := `{"hello": "wörld", "n": [1, 2, 3]}`
				args := []string{"lambda", "invoke", "--function-name", "x", "--payload", payload}
				if v2 {
					args = append(args, "--cli-binary-format", "raw-in-base64-out")
				}
				out, code := run(testSecret, append(args, filepath.Join(home, "out.json"))...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, out)
				}
				if r := verified(t); string(r.body) != payload {
					t.Errorf("server got body %q, want %q", r.body, payload)
				}
			})
			t.Run("wrong secret", func(t *testing.T) {
				out, code := run("wrong-secret", "lambda", "list-functions")
				if code != 254 && code != 255 {
					t.Fatalf("exit %d, want 254 or 255: %s", code, out)
				}
				if !strings.Contains(out, "InvalidSignatureException") {
					t.Errorf("output lacks InvalidSignatureException: %s", out)
				}
				rs := srv.drain()
				if len(rs) == 0 || kindOf(rs[0].err) != lambda.KindInvalidSignature.Code {
					t.Fatalf("server results %+v, want an InvalidSignatureException", rs)
				}
			})
		})
	}
}

// cliEnv is the environment for one CLI run: this process's environment
// without any AWS_* settings, plus static test credentials and no config.
func cliEnv(home, secret string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env,
		"HOME="+home,
		"AWS_ACCESS_KEY_ID="+testKey,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"AWS_MAX_ATTEMPTS=1",
	)
}
