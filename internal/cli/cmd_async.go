package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gust/internal/asyncq"
)

func (a *app) asyncCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "async",
		Short: "Inspect asynchronous invocation queues",
		Long: `Inspect the queues that hold asynchronous (Event) invocations: what is
waiting, what is running, and what happened to the events a function got.

Queue an event with ` + "`gust invoke NAME --async`" + `; events that failed for good
go to the function's dead-letter queue or on-failure destination, which
` + "`gust dlq`" + ` shows.`,
		Example: `  gust async stats hello
  gust async stats hello --json`,
		Args: cobra.ArbitraryArgs,
		RunE: subcommandRequired,
	}
	cmd.AddCommand(a.asyncStatsCommand())
	return cmd
}

func (a *app) asyncStatsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats NAME [--json]",
		Short: "Show a function's async queue and counters",
		Long: `Show the async queue of a function: events queued and in flight, the age
of the oldest one, and counts of what happened to the events this server
received since it started (succeeded, function errors, retries,
throttles, dead-lettered, dropped, failed deliveries).

With --json the server's answer is printed as JSON instead: Function,
Queued, InFlight, AsyncEventAge (milliseconds) and the counters under
their CloudWatch metric names (AsyncEventsReceived, Succeeded,
FunctionErrors, Retried, Throttled, DeadLettered, AsyncEventsDropped,
DeadLetterErrors, DestinationDeliveryFailures,
RecursiveInvocationsDropped).`,
		Example: `  gust async stats hello
  gust async stats hello --json | jq .Queued`,
		Args: exactArgs(1, "a function name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.settings()
			if err != nil {
				return err
			}
			st, err := s.GustClient().AsyncStats(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("async stats %s: %w", args[0], err)
			}
			if asJSON {
				return writeIndentedJSON(a.stdout, st)
			}
			return printAsyncStats(a.stdout, st)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

// printAsyncStats writes st as a two-column table.
func printAsyncStats(w io.Writer, st asyncq.Stats) error {
	age := "-"
	if st.AsyncEventAge > 0 {
		age = (time.Duration(st.AsyncEventAge) * time.Millisecond).String()
	}
	rows := []struct {
		name  string
		value any
	}{
		{"function", st.Function},
		{"queued", st.Queued},
		{"in flight", st.InFlight},
		{"oldest event age", age},
		{"received", st.AsyncEventsReceived},
		{"succeeded", st.Succeeded},
		{"function errors", st.FunctionErrors},
		{"retried", st.Retried},
		{"throttled", st.Throttled},
		{"dead-lettered", st.DeadLettered},
		{"dropped", st.AsyncEventsDropped},
		{"recursive loops dropped", st.RecursiveInvocationsDropped},
		{"DLQ delivery failures", st.DeadLetterErrors},
		{"destination delivery failures", st.DestinationDeliveryFailures},
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%v\n", r.name, r.value)
	}
	return tw.Flush()
}

// subcommandRequired runs for a command that only groups subcommands,
// when none (or an unknown one) was named: a usage error listing them.
func subcommandRequired(cmd *cobra.Command, args []string) error {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	if len(args) > 0 {
		return usageError{cmd: cmd, err: fmt.Errorf("unknown command %q for %q (want %s)", args[0], cmd.CommandPath(), strings.Join(names, ", "))}
	}
	return usageError{cmd: cmd, err: fmt.Errorf("%s needs a subcommand: %s", cmd.CommandPath(), strings.Join(names, ", "))}
}

// writeIndentedJSON prints v as indented JSON followed by a newline.
func writeIndentedJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}
