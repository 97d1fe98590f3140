package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/spf13/cobra"

	gl "gust/internal/lambda"
)

// followInterval is how often `gust logs -f` polls for new events.
const followInterval = 500 * time.Millisecond

func (a *app) logsCommand() *cobra.Command {
	var (
		follow bool
		since  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "logs NAME [-f] [--since DURATION]",
		Short: "Print a function's logs",
		Long: `Print the log events of a function (log group /aws/lambda/NAME), oldest
first, one per line, prefixed with a short id of the log stream, i.e. the
execution environment that wrote it.

With -f, keep polling for new events until interrupted. --since limits the
output to events younger than the duration; 0 prints everything kept.`,
		Example: `  gust logs hello
  gust logs hello --since 1h
  gust logs hello -f`,
		Args: exactArgs(1, "a function name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if since < 0 {
				return usageError{cmd: cmd, err: fmt.Errorf("--since must not be negative, got %s", since)}
			}
			s, err := a.settings()
			if err != nil {
				return err
			}
			var start int64
			if since > 0 {
				start = time.Now().Add(-since).UnixMilli()
			}
			t := &logTail{client: s.LogsClient(), group: gl.LogGroupName(args[0]), start: start, seen: map[string]int64{}}
			if !follow {
				if err := t.poll(cmd.Context(), a.printLogEvent); err != nil {
					var nf *types.ResourceNotFoundException
					if errors.As(err, &nf) {
						// Logs outlive their function, as on AWS; only a
						// name that never had either is an error.
						if _, ferr := s.LambdaClient().GetFunction(cmd.Context(), &lambda.GetFunctionInput{FunctionName: &args[0]}); ferr != nil {
							return fmt.Errorf("no logs for %s: %w", args[0], ferr)
						}
						fmt.Fprintf(a.stderr, "no logs for %s yet\n", args[0])
						return nil
					}
					return err
				}
				return nil
			}
			return t.follow(cmd.Context(), a.printLogEvent)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events until interrupted")
	cmd.Flags().DurationVar(&since, "since", 10*time.Minute, "only events younger than this (0: all)")
	return cmd
}

func (a *app) printLogEvent(e types.FilteredLogEvent) {
	msg := strings.TrimRight(aws.ToString(e.Message), "\n")
	fmt.Fprintf(a.stdout, "%s %s\n", shortStream(aws.ToString(e.LogStreamName)), msg)
}

// shortStream turns "2025/01/02/[$LATEST]0123456789abcdef" into "01234567":
// the start of the environment's id, enough to tell streams apart.
func shortStream(name string) string {
	if i := strings.LastIndexAny(name, "]/"); i >= 0 {
		name = name[i+1:]
	}
	if len(name) > 8 {
		name = name[:8]
	}
	return name
}

// logTail reads a log group from a start time onwards, printing each event
// once across polls.
type logTail struct {
	client *cloudwatchlogs.Client
	group  string
	start  int64 // ms since the epoch; the next poll starts here
	// seen holds the ids of events printed at or after start, to drop the
	// repeats an inclusive start time brings back. Pruned as start moves.
	seen map[string]int64
}

// poll prints every event from t.start on that was not printed before.
func (t *logTail) poll(ctx context.Context, print func(types.FilteredLogEvent)) error {
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: &t.group}
	if t.start > 0 {
		in.StartTime = aws.Int64(t.start)
	}
	p := cloudwatchlogs.NewFilterLogEventsPaginator(t.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("logs %s: %w", t.group, err)
		}
		for _, e := range page.Events {
			id, ts := aws.ToString(e.EventId), aws.ToInt64(e.Timestamp)
			if _, dup := t.seen[id]; dup && id != "" {
				continue
			}
			print(e)
			if id != "" {
				t.seen[id] = ts
			}
			t.start = max(t.start, ts)
		}
	}
	for id, ts := range t.seen {
		if ts < t.start {
			delete(t.seen, id)
		}
	}
	return nil
}

// follow polls every followInterval until ctx ends; a missing log group
// (nothing invoked yet) is waited for.
func (t *logTail) follow(ctx context.Context, print func(types.FilteredLogEvent)) error {
	tick := time.NewTicker(followInterval)
	defer tick.Stop()
	for {
		err := t.poll(ctx, print)
		var nf *types.ResourceNotFoundException
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !errors.As(err, &nf):
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
