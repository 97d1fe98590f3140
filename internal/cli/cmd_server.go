package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"gust/internal/config"
	"gust/internal/server"
)

func (a *app) serverCommand() *cobra.Command {
	cfg := config.Defaults()
	var logLevel string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a Gust server",
		Long: `Run a Gust server: the Lambda API on --listen, with functions, code and
logs kept under --data.

While it runs, the server writes <data>/server.json (mode 0600) with its
endpoint, region and credentials; the other gust commands started in the
same directory read it, so they need no configuration. The file is removed
on shutdown.

Clients sign requests with an access key pair: $GUST_ACCESS_KEY_ID and
$GUST_SECRET_ACCESS_KEY when both are set, otherwise a pair generated on
first start and kept in <data>/credentials.

The first Ctrl-C (SIGINT or SIGTERM) drains in-flight invocations for up to
30 s; a second one exits at once.`,
		Example: `  gust server
  gust server --listen 0.0.0.0:9001 --data /var/lib/gust
  gust server --metrics-listen 127.0.0.1:9464   # Prometheus scrapes http://127.0.0.1:9464/metrics
  GUST_ACCESS_KEY_ID=AKIDGUST GUST_SECRET_ACCESS_KEY=secret gust server --log-level debug`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.DataDir = a.conn.dataDir
			if a.conn.region != "" {
				cfg.Region = a.conn.region
			}
			level, err := parseLogLevel(logLevel)
			if err != nil {
				return usageError{cmd: cmd, err: err}
			}
			logger := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			return a.runServer(cmd.Context(), cfg, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "address the Lambda API listens on")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", cfg.MetricsListen, "address serving Prometheus metrics at /metrics without authentication (default: off; the API serves them signed at /_gust/v1/metrics)")
	f.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", cfg.OTLPEndpoint, "OTLP/HTTP collector URL receiving one OpenTelemetry trace per invocation, e.g. http://127.0.0.1:4318 (default: off)")
	f.StringVar(&cfg.AccountID, "account-id", cfg.AccountID, "12-digit account id used in every ARN")
	f.IntVar(&cfg.MaxConcurrency, "max-concurrency", cfg.MaxConcurrency, "most invocations running at once, across all functions")
	f.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "how long an idle execution environment is kept warm")
	f.DurationVar(&cfg.InitTimeout, "init-timeout", cfg.InitTimeout, "longest a runtime's init may take before it is retried inside the invocation, as Lambda does")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "on SIGINT/SIGTERM, how long in-flight invocations may finish before every environment is killed")
	f.Int64Var(&cfg.LogRetentionBytes, "log-bytes", cfg.LogRetentionBytes, "log bytes kept per function (log group); the oldest go first")
	f.Int64Var(&cfg.LogBytesTotal, "log-bytes-total", cfg.LogBytesTotal, "log bytes kept for all functions together; the oldest logs of the largest log groups go first")
	f.DurationVar(&cfg.AsyncRetryBase, "async-retry-base", cfg.AsyncRetryBase, "delay unit between retries of a failed async event: retry n waits n times this (Lambda's schedule is 1m)")
	f.DurationVar(&cfg.AsyncThrottleBase, "async-throttle-base", cfg.AsyncThrottleBase, "first delay before an async event that was throttled or hit a platform fault is tried again; doubles up to 5m")
	f.DurationVar(&cfg.AsyncAckWait, "async-ack-wait", cfg.AsyncAckWait, "how long an async event may go without a sign of life from the node running it before it is delivered again (at least 1s)")
	f.IntVar(&cfg.AsyncConcurrency, "async-concurrency", cfg.AsyncConcurrency, "most async events of one function run at once on this server")
	f.StringVar(&cfg.Sandbox, "sandbox", cfg.Sandbox, "how execution environments are confined: linux (namespaces and cgroups; the default as root on Linux) or process (none; the default otherwise, and the way to opt out)")
	f.IntVar(&cfg.SandboxShells, "sandbox-shells", cfg.SandboxShells, "linux-sandbox environments kept started ahead of need, to shorten cold starts (0: none)")
	f.IntVar(&cfg.StemCells, "stem-cells", cfg.StemCells, "Node.js and Python runtimes each kept started in linux-sandbox shells, waiting for a function, to shorten their cold starts (0: none)")
	f.StringVar(&cfg.NodePath, "node", "", "node binary for the nodejs runtimes (default: node on PATH)")
	f.StringVar(&cfg.PythonPath, "python", "", "python binary for the python runtimes (default: python3 on PATH)")
	f.StringVar(&logLevel, "log-level", "info", "server log level: debug, info, warn or error")
	_ = cmd.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions([]string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("sandbox", cobra.FixedCompletions([]string{"linux", "process"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// runServer starts the server, publishes server.json and the banner, and
// blocks until ctx ends; then it shuts down within cfg.ShutdownTimeout.
func (a *app) runServer(ctx context.Context, cfg config.Server, logger *slog.Logger) error {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("server: data dir: %w", err)
	}
	fromEnv := cfg.AccessKeyID != ""
	// Healthy only once server.json is written: clients find the server
	// through it, so a script that waits for /healthz can use them at once.
	cfg.DeferReady = true
	srv, err := server.New(cfg, logger)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("server: start: %w", err)
	}
	a.draining.Store(true)

	keyID, secret := srv.Credentials()
	pid := os.Getpid()
	info := serverInfo{
		Endpoint:        srv.Endpoint(),
		Region:          srv.Region(),
		AccountID:       cfg.AccountID,
		AccessKeyID:     keyID,
		SecretAccessKey: secret,
		PID:             pid,
	}
	infoErr := writeServerInfo(dataDir, info)
	if infoErr == nil {
		a.setOnForce(func() { _ = removeServerInfo(dataDir, pid) })
	} else {
		logger.Warn("clients will need GUST_ENDPOINT and credentials", "err", infoErr)
	}
	srv.MarkReady()
	a.printBanner(info, fromEnv, dataDir)

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("server: shutdown: %w", err))
	}
	if infoErr == nil {
		if err := removeServerInfo(dataDir, pid); err != nil {
			errs = append(errs, fmt.Errorf("server: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (a *app) printBanner(info serverInfo, fromEnv bool, dataDir string) {
	source := "generated, kept in " + displayPath(filepath.Join(dataDir, credentialsFile))
	if fromEnv {
		source = "from $GUST_ACCESS_KEY_ID"
	}
	var b strings.Builder
	fmt.Fprintln(&b, "Gust is running.")
	fmt.Fprintf(&b, "  endpoint:    %s\n", info.Endpoint)
	fmt.Fprintf(&b, "  region:      %s\n", info.Region)
	fmt.Fprintf(&b, "  credentials: %s / %s  (%s)\n", info.AccessKeyID, info.SecretAccessKey, source)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Try it:")
	envCmd := "gust env"
	if def, err := filepath.Abs(defaultDataDir); err != nil || def != dataDir {
		envCmd += " --data " + shellQuote(displayPath(dataDir))
	}
	fmt.Fprintf(&b, "  eval \"$(%s)\"\n", envCmd)
	// --endpoint-url rather than AWS_ENDPOINT_URL alone: AWS CLI v2 before
	// 2.13 (Debian's awscli) ignores the variable and would call AWS.
	fmt.Fprintf(&b, "  aws lambda list-functions --endpoint-url %s\n", info.Endpoint)
	fmt.Fprint(a.stdout, b.String())
}

// displayPath shortens p relative to the working directory when it is
// inside it.
func displayPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	rel, err := filepath.Rel(wd, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return p
	}
	return rel
}
