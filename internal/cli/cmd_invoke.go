package cli

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"
)

func (a *app) invokeCommand() *cobra.Command {
	var (
		payload   string
		qualifier string
		tail      bool
		event     bool
	)
	cmd := &cobra.Command{
		Use:   "invoke NAME [--payload JSON|@FILE|-] [--async]",
		Short: "Invoke a function and print its response",
		Long: `Invoke a function and print its response payload to stdout, as the
function returned it, followed by a newline.

--payload is the event: a JSON document, @FILE to read it from a file, or -
to read it from stdin. With --tail the last 4 KB of the invocation's log
are printed to stderr.

If the function fails, its error payload is printed to stdout and gust
exits with status 1.

With --async the event is queued instead (InvocationType Event) and gust
returns as soon as the server accepted it: stdout gets the invocation's
request id alone on a line, stderr "queued (status 202)". The same id
marks the invocation's log lines and any dead-letter message it leaves;
follow the queue with ` + "`gust async stats NAME`" + `.`,
		Example: `  gust invoke hello
  gust invoke hello --payload '{"name":"gust"}' --tail
  gust invoke hello --payload @event.json
  echo '{"n":1}' | gust invoke hello --payload -
  id=$(gust invoke hello --async --payload '{"n":1}')`,
		Args: exactArgs(1, "a function name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if event && tail {
				return usageError{cmd: cmd, err: fmt.Errorf("--tail needs a synchronous invocation; the log of an --async one is in `gust logs`")}
			}
			body, err := readPayload(payload, a.stdin)
			if err != nil {
				return usageError{cmd: cmd, err: err}
			}
			s, err := a.settings()
			if err != nil {
				return err
			}
			in := &lambda.InvokeInput{FunctionName: &args[0], Payload: body}
			if qualifier != "" {
				in.Qualifier = &qualifier
			}
			if tail {
				in.LogType = types.LogTypeTail
			}
			if event {
				in.InvocationType = types.InvocationTypeEvent
			}
			out, err := s.LambdaClient().Invoke(cmd.Context(), in)
			if err != nil {
				return fmt.Errorf("invoke %s: %w", args[0], err)
			}
			if tail && out.LogResult != nil {
				logs, err := base64.StdEncoding.DecodeString(*out.LogResult)
				if err != nil {
					return fmt.Errorf("invoke %s: decode log result: %w", args[0], err)
				}
				a.stderr.Write(logs)
				if len(logs) > 0 && logs[len(logs)-1] != '\n' {
					fmt.Fprintln(a.stderr)
				}
			}
			if event {
				rid, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
				if rid == "" {
					return fmt.Errorf("invoke %s: queued (status %d), but the answer carried no request id", args[0], out.StatusCode)
				}
				fmt.Fprintln(a.stdout, rid)
				fmt.Fprintf(a.stderr, "queued (status %d)\n", out.StatusCode)
				return nil
			}
			a.stdout.Write(out.Payload)
			fmt.Fprintln(a.stdout)
			if out.FunctionError != nil {
				fmt.Fprintf(a.stderr, "gust: function error (%s), executed version %s\n", *out.FunctionError, aws.ToString(out.ExecutedVersion))
				return exitError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&payload, "payload", "", "event: JSON, @FILE, or - for stdin (default: no payload)")
	f.StringVar(&qualifier, "qualifier", "", "version or alias to invoke (default $LATEST)")
	f.BoolVar(&tail, "tail", false, "print the end of the invocation's log to stderr")
	f.BoolVar(&event, "async", false, "queue the event (InvocationType Event); print its request id")
	// --event is the old name of --async, kept for scripts.
	f.BoolVar(&event, "event", false, "same as --async")
	_ = f.MarkHidden("event")
	return cmd
}

// readPayload resolves --payload: literal JSON, @file or - for stdin.
func readPayload(p string, stdin io.Reader) ([]byte, error) {
	switch {
	case p == "":
		return nil, nil
	case p == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("--payload -: read stdin: %w", err)
		}
		return b, nil
	case strings.HasPrefix(p, "@"):
		b, err := os.ReadFile(p[1:])
		if err != nil {
			return nil, fmt.Errorf("--payload: %w", err)
		}
		return b, nil
	default:
		return []byte(p), nil
	}
}
