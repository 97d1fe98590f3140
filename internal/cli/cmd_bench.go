package cli

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/cobra"

	"gust/internal/bench"
)

func (a *app) benchCommand() *cobra.Command {
	var (
		opts   bench.Options
		asJSON bool
		out    string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a Gust server: warm and cold invokes, scale-out, async",
		Long: `Measure a Gust server through the AWS SDK's Lambda client, as a user's
program would, and print the figures as markdown tables (or JSON).

Without --endpoint it starts a server in-process (a temporary data dir, a
random loopback port, the defaults of ` + "`gust server`" + `) and removes it at
the end; with --endpoint it measures that server, signing with the usual
credentials (server.json, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
It deploys echo functions named gust-bench-<runtime> (512 MB) and deletes
them at the end.

  floor      a bare net/http server in this process answering the Invoke
             route by echoing the body, called with the same client: the
             reference the warm figures are compared with
  warm       invokes/s, p50 and p99 per runtime and --concurrency, each for
             --duration after a warm-up; overhead = p50 minus the floor's
  cold       --cold-starts first invokes per runtime, each after a
             configuration change forced a new environment: the client's
             wall time and the REPORT line's Init Duration (p50, p90)
  scale-out  --scale-out invokes of the go function at once with none warm,
             each holding its environment --hold: time until the last
             handler started and until all returned
  async      --async-events Event invocations of the go function from 8
             goroutines; each run POSTs its request id to a collector in this
             process: accepted/s, delivered/s, end-to-end p50

The go function's bootstrap is this gust binary itself unless --go-bootstrap
names another (build a small one with
CGO_ENABLED=0 go build -o /tmp/echo ./internal/bench/echofn). --cold-starts,
--scale-out or --async-events 0 skips that measurement. Progress goes to
stderr; --out also writes the JSON report to a file.`,
		Example: `  gust bench
  gust bench --runtimes go,python --concurrency 1,8 --duration 5s --out bench.json
  gust bench --endpoint http://127.0.0.1:9001 --scale-out 0 --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.conn.endpoint != "" {
				s, err := a.settings()
				if err != nil {
					return err
				}
				opts.Endpoint, opts.Region, opts.AccountID = s.Endpoint, s.Region, s.AccountID
				opts.Credentials = credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, s.SessionToken)
			} else {
				opts.Region = a.conn.region
			}
			for _, n := range []*int{&opts.ColdStarts, &opts.ScaleOut, &opts.AsyncEvents} {
				switch {
				case *n < 0:
					return usageError{cmd: cmd, err: fmt.Errorf("--cold-starts, --scale-out and --async-events cannot be negative")}
				case *n == 0:
					*n = -1 // skip
				}
			}
			opts.Version = Version
			opts.Command = commandLine(cmd)
			opts.Logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

			rep, err := bench.Run(cmd.Context(), opts, a.stderr)
			if err != nil {
				return err
			}
			js, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				return fmt.Errorf("bench: encode report: %w", err)
			}
			js = append(js, '\n')
			if out != "" {
				if err := os.WriteFile(out, js, 0o644); err != nil {
					return fmt.Errorf("bench: %w", err)
				}
			}
			if asJSON {
				_, err = a.stdout.Write(js)
				return err
			}
			return rep.WriteTable(a.stdout)
		},
	}
	f := cmd.Flags()
	f.IntSliceVar(&opts.Concurrency, "concurrency", bench.DefaultConcurrency, "in-flight invokes of each warm measurement")
	f.DurationVar(&opts.Duration, "duration", bench.DefaultDuration, "how long each warm measurement runs")
	f.IntVar(&opts.ColdStarts, "cold-starts", bench.DefaultColdStarts, "cold starts measured per runtime (0 skips)")
	f.IntVar(&opts.ScaleOut, "scale-out", bench.DefaultScaleOut, "environments the scale-out measurement starts at once (0 skips)")
	f.DurationVar(&opts.Hold, "hold", bench.DefaultHold, "how long each scale-out invoke keeps its environment busy")
	f.IntVar(&opts.AsyncEvents, "async-events", bench.DefaultAsyncEvents, "Event invocations the async measurement sends (0 skips)")
	f.StringSliceVar(&opts.Runtimes, "runtimes", nil, "runtimes to measure: go, python, node (default: go and each whose interpreter is on PATH)")
	f.StringVar(&opts.GoBootstrap, "go-bootstrap", "", "provided.al2023 bootstrap of the go function (default: this gust binary)")
	f.StringVar(&opts.Sandbox, "sandbox", "", "sandbox of the in-process server: linux or process (default: the server's)")
	f.StringVar(&opts.Python, "python", "", "python binary of the in-process server (default: python3 on PATH)")
	f.StringVar(&opts.Node, "node", "", "node binary of the in-process server (default: node on PATH)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON instead of tables")
	f.StringVar(&out, "out", "", "also write the JSON report to this file")
	_ = cmd.RegisterFlagCompletionFunc("runtimes", cobra.FixedCompletions([]string{"go", "python", "node"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("sandbox", cobra.FixedCompletions([]string{"linux", "process"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// benchFlags are the flags commandLine repeats when set.
var benchFlags = []string{"endpoint", "region", "data", "concurrency", "duration", "cold-starts", "scale-out",
	"hold", "async-events", "runtimes", "go-bootstrap", "sandbox", "python", "node", "json", "out"}

// commandLine is the command as given, for the report: its path and every
// flag that was set, so the run can be repeated.
func commandLine(cmd *cobra.Command) []string {
	args := strings.Fields(cmd.CommandPath())
	for _, name := range benchFlags {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			// Slices print as [a,b].
			args = append(args, "--"+name+"="+strings.Trim(f.Value.String(), "[]"))
		}
	}
	return args
}
