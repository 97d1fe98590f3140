package cli

import (
	"bytes"
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/cobra"
)

// runCLI runs gust in-process and returns its exit status and output.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut, strings.NewReader(stdin))
	code = a.run(context.Background(), args)
	return code, out.String(), errOut.String()
}

func TestHelpMentionsFlags(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"server", "deploy", "invoke", "ls", "rm", "logs", "async", "dlq", "env", "version", "completion", "--endpoint", "--region", "--data", "Examples:"}},
		{[]string{"server", "--help"}, []string{"--listen", "--data", "--region", "--account-id", "--max-concurrency", "--idle-timeout", "--sandbox", "--node", "--python", "--log-level", "server.json", "--async-retry-base", "--async-throttle-base", "--async-ack-wait", "--async-concurrency", "Examples:"}},
		{[]string{"deploy", "--help"}, []string{"--name", "--runtime", "--handler", "--memory", "--timeout", "--env", "--role", "--description", "nodejs20.x", "Examples:"}},
		{[]string{"invoke", "--help"}, []string{"--payload", "--qualifier", "--tail", "@FILE", "--async", "request id", "queued (status 202)", "Examples:"}},
		{[]string{"async", "--help"}, []string{"stats", "gust dlq", "Examples:"}},
		{[]string{"async", "stats", "--help"}, []string{"--json", "AsyncEventAge", "Examples:"}},
		{[]string{"dlq", "--help"}, []string{"ls", "show", "redrive", "DeadLetterConfig", "Examples:"}},
		{[]string{"dlq", "ls", "--help"}, []string{"--json", "Examples:"}},
		{[]string{"dlq", "show", "--help"}, []string{"--max", "--json", "request id", "Examples:"}},
		{[]string{"dlq", "redrive", "--help"}, []string{"--to", "Examples:"}},
		{[]string{"ls", "--help"}, []string{"runtime, memory, timeout", "--endpoint", "Examples:"}},
		{[]string{"rm", "--help"}, []string{"DeleteFunction", "Examples:"}},
		{[]string{"logs", "--help"}, []string{"--follow", "-f", "--since", "/aws/lambda/NAME", "Examples:"}},
		{[]string{"env", "--help"}, []string{"AWS_ENDPOINT_URL", "--data", "eval", "Examples:"}},
		{[]string{"version", "--help"}, []string{"gust version", "Examples:"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(t, "", tt.args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("help does not mention %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestEveryCommandDocumented keeps Short, Long and Example on every
// command and subcommand.
func TestEveryCommandDocumented(t *testing.T) {
	a := newApp(&bytes.Buffer{}, &bytes.Buffer{}, strings.NewReader(""))
	root := a.rootCommand()
	if root.Short == "" || root.Long == "" || root.Example == "" {
		t.Errorf("root command lacks Short, Long or Example")
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Short == "" || sub.Long == "" || sub.Example == "" {
				t.Errorf("command %q lacks Short, Long or Example", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(root)
}

func TestCompletion(t *testing.T) {
	tests := []struct {
		shell string
		want  string
	}{
		{"bash", "__start_gust"},
		{"zsh", "#compdef gust"},
		{"fish", "complete -c gust"},
		{"powershell", "Register-ArgumentCompleter"},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", "completion", tt.shell)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("completion %s: output lacks %q (got %d bytes)", tt.shell, tt.want, len(out))
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", []string{"invoke", "f", "--bogus"}, 2, "unknown flag: --bogus"},
		{"invoke without name", []string{"invoke"}, 2, "needs a function name"},
		{"rm without name", []string{"rm"}, 2, "at least one function name"},
		{"deploy without name flag", []string{"deploy", "."}, 2, "--name is required"},
		{"deploy bad env", []string{"deploy", ".", "--name", "f", "--env", "NOEQUALS"}, 2, "want KEY=VALUE"},
		{"ls with args", []string{"ls", "extra"}, 2, "takes no arguments"},
		{"logs negative since", []string{"logs", "f", "--since", "-1m"}, 2, "must not be negative"},
		{"server bad log level", []string{"server", "--log-level", "loud"}, 2, "want debug, info, warn or error"},
		{"deploy missing path", []string{"deploy", "/does/not/exist", "--name", "f"}, 1, "no such file"},
		{"invoke async with tail", []string{"invoke", "f", "--async", "--tail"}, 2, "--tail needs a synchronous invocation"},
		{"async without subcommand", []string{"async"}, 2, "gust async needs a subcommand: stats"},
		{"async unknown subcommand", []string{"async", "bogus"}, 2, `unknown command "bogus" for "gust async"`},
		{"async stats without name", []string{"async", "stats"}, 2, "needs a function name"},
		{"dlq without subcommand", []string{"dlq"}, 2, "gust dlq needs a subcommand: ls, redrive, show"},
		{"dlq show without queue", []string{"dlq", "show"}, 2, "needs a queue name"},
		{"dlq show bad max", []string{"dlq", "show", "q", "--max", "0"}, 2, "--max must be from 1 to 1000"},
		{"dlq redrive without queue", []string{"dlq", "redrive"}, 2, "needs a queue name"},
		{"dlq ls with args", []string{"dlq", "ls", "extra"}, 2, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.wantErr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "gust "+Version+" (") {
		t.Errorf("version: exit %d, output %q", code, out)
	}
}

func TestClientCommandWithoutCredentials(t *testing.T) {
	clearConnEnv(t)
	t.Chdir(t.TempDir())
	code, _, errOut := runCLI(t, "", "ls")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"start `gust server` in this directory", "GUST_ENDPOINT", "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", "gust env"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q does not say %q", errOut, want)
		}
	}
}

func TestSignalStatus(t *testing.T) {
	tests := []struct {
		sig  syscall.Signal
		want int
	}{
		{syscall.SIGINT, 130},
		{syscall.SIGTERM, 143},
	}
	for _, tt := range tests {
		if got := signalStatus(tt.sig); got != tt.want {
			t.Errorf("signalStatus(%v) = %d, want %d", tt.sig, got, tt.want)
		}
	}
}
