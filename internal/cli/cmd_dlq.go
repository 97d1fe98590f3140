package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gust/internal/asyncq"
)

func (a *app) dlqCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, show and redrive dead-letter queues",
		Long: `Work with Gust's dead-letter queues: where async events end up after
their retries ran out or they grew too old, when the function has a
DeadLetterConfig or an on-failure destination naming an SQS queue
(arn:aws:sqs:REGION:ACCOUNT:QUEUE). Gust keeps these queues itself; the
queue's name is the last part of the ARN.`,
		Example: `  gust dlq ls
  gust dlq show hello-dlq
  gust dlq redrive hello-dlq`,
		Args: cobra.ArbitraryArgs,
		RunE: subcommandRequired,
	}
	cmd.AddCommand(a.dlqLsCommand(), a.dlqShowCommand(), a.dlqRedriveCommand())
	return cmd
}

func (a *app) dlqLsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--json]",
		Aliases: []string{"list"},
		Short:   "List dead-letter queues that hold messages",
		Long: `List the dead-letter queues that hold messages, one per line, with the
number of messages and the queue's ARN. Empty queues are not listed.

With --json the server's answer is printed: {"Queues":[{"Name",
"QueueArn","Messages"}]}.`,
		Example: `  gust dlq ls
  gust dlq ls --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.settings()
			if err != nil {
				return err
			}
			queues, err := s.GustClient().DeadLetterQueues(cmd.Context())
			if err != nil {
				return fmt.Errorf("list dead-letter queues: %w", err)
			}
			if asJSON {
				if queues == nil {
					queues = []asyncq.QueueInfo{}
				}
				return writeIndentedJSON(a.stdout, map[string]any{"Queues": queues})
			}
			if len(queues) == 0 {
				fmt.Fprintln(a.stderr, "no dead-letter messages")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "QUEUE\tMESSAGES\tARN")
			for _, q := range queues {
				fmt.Fprintf(tw, "%s\t%d\t%s\n", q.Name, q.Messages, q.QueueArn)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

func (a *app) dlqShowCommand() *cobra.Command {
	var (
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "show QUEUE [--max N] [--json]",
		Short: "Print the messages of a dead-letter queue",
		Long: `Print the messages of a dead-letter queue, oldest first, one block per
message: its sequence number, when it was queued, the request id of the
async invocation, the function, why it failed for good (condition, e.g.
RetriesExhausted or EventAgeExceeded), the function's error type and
message, and the body (the event, or for on-failure destinations the
invocation record) as compact JSON.

--max bounds how many messages are printed (1 to 1000). With --json the
server's answer is printed: {"Messages":[…]}.`,
		Example: `  gust dlq show hello-dlq
  gust dlq show hello-dlq --max 1 --json`,
		Args: exactArgs(1, "a queue name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 1000 {
				return usageError{cmd: cmd, err: fmt.Errorf("--max must be from 1 to 1000, got %d", limit)}
			}
			s, err := a.settings()
			if err != nil {
				return err
			}
			msgs, err := s.GustClient().DeadLetters(cmd.Context(), args[0], limit)
			if err != nil {
				return fmt.Errorf("dead-letter queue %s: %w", args[0], err)
			}
			if asJSON {
				if msgs == nil {
					msgs = []asyncq.DeadLetter{}
				}
				return writeIndentedJSON(a.stdout, map[string]any{"Messages": msgs})
			}
			if len(msgs) == 0 {
				fmt.Fprintf(a.stderr, "%s holds no messages\n", args[0])
				return nil
			}
			for i, m := range msgs {
				if i > 0 {
					fmt.Fprintln(a.stdout)
				}
				if err := printDeadLetter(a.stdout, m); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "max", 100, "most messages to print (1-1000)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

// printDeadLetter writes one message as a block of "key: value" lines;
// lines with nothing to say are left out.
func printDeadLetter(w io.Writer, m asyncq.DeadLetter) error {
	function := m.Function
	if m.Qualifier != "" {
		function += ":" + m.Qualifier
	}
	body := m.Body
	var compact bytes.Buffer
	if json.Compact(&compact, body) == nil {
		body = compact.Bytes()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "message %d\n", m.Sequence)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "  %s:\t%s\n", k, v)
		}
	}
	line("time", m.Time.UTC().Format(time.RFC3339Nano))
	line("kind", m.Kind)
	line("request id", m.RequestID)
	line("function", function)
	line("condition", m.Condition)
	line("error type", m.ErrorType)
	line("error message", m.ErrorMessage)
	line("body", string(body))
	return tw.Flush()
}

func (a *app) dlqRedriveCommand() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "redrive QUEUE [--to FUNCTION]",
		Short: "Send a dead-letter queue's messages back to be invoked",
		Long: `Send every message of a dead-letter queue back as a new async invocation
of the function it came from (same qualifier), or of --to FUNCTION, and
remove each message once its invocation is queued. Prints the number of
messages redriven.

Redrive stops at the first message that cannot be queued (e.g. its
function was deleted): that message and the ones after it stay in the
queue, and gust exits 1 with the server's message, which says how many
were redriven before.`,
		Example: `  gust dlq redrive hello-dlq
  gust dlq redrive hello-dlq --to hello-fixed`,
		Args: exactArgs(1, "a queue name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.settings()
			if err != nil {
				return err
			}
			n, err := s.GustClient().Redrive(cmd.Context(), args[0], to)
			if err != nil {
				return fmt.Errorf("redrive %s: %w", args[0], err)
			}
			fmt.Fprintf(a.stdout, "redriven %d\n", n)
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "function to invoke instead of each message's own")
	return cmd
}
