// Package cli is the `gust` command: `gust server` runs a node, and the
// client commands (deploy, invoke, ls, rm, logs, env) talk to a running node
// only through the AWS SDK's Lambda and CloudWatch Logs clients, which keeps
// them honest about compatibility. `gust async`, `gust dlq` and `gust iam` use Gust's
// own /_gust/v1/ endpoints, which no AWS API has, through GustClient: plain
// HTTP signed with the SDK's SigV4 signer like the Lambda client. It is the
// only package that prints to the terminal.
//
// Goroutines: Main starts one signal watcher that lives until Main returns.
// The first SIGINT/SIGTERM cancels the command's context (graceful drain);
// a second one exits the process at once with status 128+signal. Nothing
// else in this package calls os.Exit.
//
// Invariants: commands write results to stdout and diagnostics to stderr;
// every error reaches the user once, through reportError, with exit status
// 1 (2 for usage errors).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"
)

// Version is the gust release, set at build time with
// -ldflags "-X gust/internal/cli.Version=v1.2.3".
var Version = "dev"

// Main runs the gust command with signal handling and returns the process
// exit status. It calls os.Exit only when a second signal forces exit.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	a := newApp(stdout, stderr, os.Stdin)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go a.watchSignals(sigs, done, cancel)

	return a.run(ctx, args)
}

// Run runs the gust command in-process under ctx, without touching signal
// handlers; tests and harnesses use it.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return newApp(stdout, stderr, os.Stdin).run(ctx, args)
}

// app is one execution of the command: its streams, the connection flags
// shared by the client commands, and the hooks the signal watcher uses.
type app struct {
	stdout io.Writer
	stderr io.Writer // safe for concurrent use
	stdin  io.Reader

	conn connFlags

	// draining makes the first signal announce a graceful shutdown.
	draining atomic.Bool
	// onForce runs before a forced exit (e.g. removing server.json).
	onForceMu sync.Mutex
	onForce   func()
	// interrupted records the first signal, for the exit status of
	// commands it cut short.
	interrupted atomic.Value // syscall.Signal
}

func newApp(stdout, stderr io.Writer, stdin io.Reader) *app {
	return &app{stdout: stdout, stderr: &lockedWriter{w: stderr}, stdin: stdin}
}

// watchSignals cancels on the first signal and exits on the second.
func (a *app) watchSignals(sigs <-chan os.Signal, done <-chan struct{}, cancel context.CancelFunc) {
	select {
	case sig := <-sigs:
		if s, ok := sig.(syscall.Signal); ok {
			a.interrupted.Store(s)
		}
		if a.draining.Load() {
			fmt.Fprintln(a.stderr, "shutting down (send again to force)")
		}
		cancel()
	case <-done:
		return
	}
	select {
	case sig := <-sigs:
		a.onForceMu.Lock()
		f := a.onForce
		a.onForceMu.Unlock()
		if f != nil {
			f()
		}
		fmt.Fprintf(a.stderr, "gust: %v again, exiting now\n", sig)
		os.Exit(signalStatus(sig))
	case <-done:
	}
}

func (a *app) setOnForce(f func()) {
	a.onForceMu.Lock()
	a.onForce = f
	a.onForceMu.Unlock()
}

// signalStatus is the shell's exit status for death by sig: 130 for
// SIGINT, 143 for SIGTERM.
func signalStatus(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// run executes args and turns the outcome into an exit status.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	if strings.HasPrefix(err.Error(), "unknown command") {
		err = usageError{cmd: cmd, err: err}
	}
	return a.reportError(ctx, err)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "gust",
		Short: "AWS Lambda you run yourself",
		Long: `Gust runs AWS Lambda functions on your own machine. It accepts the same
function zips, speaks the same Lambda API and writes the same logs, so the
aws CLI, the AWS SDKs and tools built on them work against it unchanged.

Start a server in one terminal, then deploy and invoke from another:
the client commands find the running server through .gust/server.json
in the current directory (or --data, or GUST_ENDPOINT).`,
		Example: `  gust server
  gust deploy ./hello --name hello --runtime nodejs20.x --handler index.handler
  gust invoke hello --payload '{"name":"gust"}'
  eval "$(gust env)"; aws lambda list-functions --endpoint-url "$AWS_ENDPOINT_URL"`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetIn(a.stdin)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{cmd: c, err: err}
	})

	pf := root.PersistentFlags()
	pf.StringVar(&a.conn.endpoint, "endpoint", "", "Gust API URL (default: $GUST_ENDPOINT, the running server, $AWS_ENDPOINT_URL, http://127.0.0.1:9001)")
	pf.StringVar(&a.conn.region, "region", "", "AWS region (default: the running server's, $AWS_REGION, us-east-1)")
	pf.StringVar(&a.conn.dataDir, "data", defaultDataDir, "Gust data directory; holds server.json while a server runs")

	root.AddCommand(
		a.serverCommand(),
		a.deployCommand(),
		a.invokeCommand(),
		a.lsCommand(),
		a.rmCommand(),
		a.logsCommand(),
		a.asyncCommand(),
		a.dlqCommand(),
		a.iamCommand(),
		a.sourceCommand(),
		a.s3Command(),
		a.topicCommand(),
		a.statsCommand(),
		a.benchCommand(),
		a.usageCommand(),
		a.envCommand(),
		a.versionCommand(),
	)
	return root
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the gust version",
		Long:    "Print the gust release and the Go toolchain it was built with.",
		Example: "  gust version",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			goVersion := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
			}
			fmt.Fprintf(a.stdout, "gust %s (%s)\n", Version, goVersion)
			return nil
		},
	}
}

// usageError is a mistake in how the command was called; it exits 2.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError ends a command with a status after its output has already
// said everything (e.g. a function error whose payload was printed).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// noArgs and friends return usage errors, so bad arguments exit 2.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{cmd: cmd, err: fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{cmd: cmd, err: fmt.Errorf("%s needs %s", cmd.CommandPath(), what)}
		}
		return nil
	}
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError{cmd: cmd, err: fmt.Errorf("%s needs %s", cmd.CommandPath(), what)}
		}
		return nil
	}
}

// reportError prints err for a person and returns the exit status.
func (a *app) reportError(ctx context.Context, err error) int {
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		if s, ok := a.interrupted.Load().(syscall.Signal); ok {
			return signalStatus(s)
		}
		fmt.Fprintln(a.stderr, "gust: interrupted")
		return 1
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(a.stderr, "gust: %v\n", ue.err)
		path := "gust"
		if ue.cmd != nil {
			path = ue.cmd.CommandPath()
		}
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", path)
		return 2
	}
	fmt.Fprintf(a.stderr, "gust: %s\n", describeError(err))
	return 1
}

// lockedWriter serialises writes from the command, the server's logger and
// the signal watcher.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
