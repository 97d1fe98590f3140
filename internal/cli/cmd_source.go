package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gust/internal/esm"
)

// sourceURLEnv holds a broker URL given as "-", so that its password
// stays out of the shell history and the process list.
const sourceURLEnv = "GUST_SOURCE_URL"

// maxVisibilityTimeout is SQS's ceiling for a visibility timeout.
const maxVisibilityTimeout = 12 * time.Hour

// sourceInfo is one source as /_gust/v1/sources answers it.
type sourceInfo struct {
	Source         esm.Source
	EventSourceArn string
	MQBrokerArn    string `json:",omitempty"`
}

func (a *app) sourceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "source",
		Short: "Bind broker queues and streams to ARNs for event source mappings",
		Long: `Bind a RabbitMQ queue, a NATS JetStream stream, a Redis stream or the
row changes of PostgreSQL tables to an AWS-style ARN, so that 'aws lambda
create-event-source-mapping --event-source-arn ARN' can feed it to a
function, as it would an SQS queue, a Kinesis stream, an Amazon MQ broker
or a DynamoDB stream.

A source with queue semantics gets an SQS ARN and SQS-shaped events:
  arn:aws:sqs:REGION:ACCOUNT:NAME
one with stream semantics a Kinesis ARN and Kinesis-shaped events:
  arn:aws:kinesis:REGION:ACCOUNT:stream/NAME
and a RabbitMQ source also an Amazon MQ broker ARN, for aws:rmq events:
  arn:aws:mq:REGION:ACCOUNT:broker:NAME:b-ID
and a PostgreSQL source a DynamoDB stream ARN and DynamoDB stream events:
  arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/CREATED

The broker URL holds its credentials: the server keeps it, and never
shows its password again (it prints as ****).`,
		Example: `  gust source create orders --rabbitmq amqp://guest:guest@127.0.0.1:5672/
  gust source create clicks --nats nats://127.0.0.1:4222 --stream CLICKS --kind stream
  gust source create jobs --redis redis://127.0.0.1:6379 --max-receive 3 --dead-letter jobs-dlq
  gust source create shop --postgres postgres://app:pw@127.0.0.1:5432/shop --table public.orders
  gust source ls
  gust source rm orders`,
		Args: cobra.ArbitraryArgs,
		RunE: subcommandRequired,
	}
	cmd.AddCommand(a.sourceCreateCommand(), a.sourceLsCommand(), a.sourceShowCommand(), a.sourceRmCommand())
	return cmd
}

// sourceFlags are the options of `gust source create`.
type sourceFlags struct {
	rabbitmq, nats, redis  string
	postgres               string
	tables                 []string
	view, slot, pub        string
	queue, stream, subject string
	kind                   string
	shards                 int
	visibility             time.Duration
	maxReceive             int
	deadLetter             string
	asJSON                 bool
}

func (a *app) sourceCreateCommand() *cobra.Command {
	var f sourceFlags
	cmd := &cobra.Command{
		Use:   "create NAME (--rabbitmq URL | --nats URL --stream S | --redis URL | --postgres URL --table T) [flags]",
		Short: "Create a source and print the ARN to map it by",
		Long: `Create a source named NAME (1 to 80 of A-Z a-z 0-9 _ -) on exactly one
broker, and print its event source ARN on stdout; a RabbitMQ source's
Amazon MQ broker ARN follows on a second line. Stderr shows the aws
command that maps the source to a function.

  --rabbitmq URL  amqp:// or amqps://; reads --queue (default NAME)
  --nats URL      nats:// or tls://; reads the JetStream stream --stream,
                  optionally only the subjects matching --subject
  --redis URL     redis:// or rediss://; reads the stream key --stream
                  (default NAME)
  --postgres URL  postgres:// or postgresql://; streams the row changes
                  of every --table schema.table (repeat it), through a
                  logical replication slot (--slot) and a publication
                  (--publication), both gust_NAME by default and made
                  when missing. Needs wal_level=logical; tables need
                  REPLICA IDENTITY FULL for complete old images.
                  --view KEYS_ONLY|NEW_IMAGE|OLD_IMAGE|NEW_AND_OLD_IMAGES
                  (default NEW_AND_OLD_IMAGES). Always a stream of one
                  shard, mapped with ParallelizationFactor 1.

A URL of "-" is read from $GUST_SOURCE_URL instead, which keeps its
password out of the shell history and the process list.

--kind queue (the default) gives SQS semantics: competing consumers, one
acknowledgement per message, a failed message is received again after
--visibility-timeout (default 30s). For NATS and Redis, --max-receive N
with --dead-letter TARGET moves a message received N times and failed
again to TARGET (a subject a JetStream stream captures, or a stream key);
RabbitMQ queues dead-letter with their own delivery limit and dead-letter
exchange. --kind stream gives Kinesis semantics (NATS and Redis only):
records in order, spread over --shards by partition key, checkpointed.
A PostgreSQL source is always a stream, of DynamoDB stream records.

With --json the server's answer is printed:
{"Source":{…},"EventSourceArn":"…","MQBrokerArn":"…"}.`,
		Example: `  gust source create orders --rabbitmq amqp://guest:guest@127.0.0.1:5672/ --queue orders
  GUST_SOURCE_URL=nats://app:pw@127.0.0.1:4222 gust source create clicks --nats - --stream CLICKS --kind stream --shards 4
  gust source create jobs --redis redis://127.0.0.1:6379 --stream jobs --visibility-timeout 1m --max-receive 3 --dead-letter jobs-dlq
  gust source create shop --postgres - --table public.orders --table public.payments --view NEW_IMAGE
  aws lambda create-event-source-mapping --function-name worker --event-source-arn arn:aws:sqs:us-east-1:000000000000:jobs`,
		Args: exactArgs(1, "a source name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := f.source(cmd, args[0])
			if err != nil {
				return err
			}
			out, err := postJSON[sourceInfo](a, cmd.Context(), "/_gust/v1/sources", "create source "+src.Name, src)
			if err != nil {
				return err
			}
			if f.asJSON {
				return writeIndentedJSON(a.stdout, out)
			}
			fmt.Fprintln(a.stdout, out.EventSourceArn)
			if out.MQBrokerArn != "" {
				fmt.Fprintln(a.stdout, out.MQBrokerArn)
			}
			a.printMappingHint(out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.rabbitmq, "rabbitmq", "", "RabbitMQ URL (amqp://USER:PASS@HOST:5672/VHOST; '-' = $"+sourceURLEnv+")")
	fl.StringVar(&f.nats, "nats", "", "NATS URL (nats://[USER:PASS@]HOST:4222; '-' = $"+sourceURLEnv+")")
	fl.StringVar(&f.redis, "redis", "", "Redis URL (redis://[:PASS@]HOST:6379/DB; '-' = $"+sourceURLEnv+")")
	fl.StringVar(&f.postgres, "postgres", "", "PostgreSQL URL (postgres://USER:PASS@HOST:5432/DB; '-' = $"+sourceURLEnv+")")
	fl.StringArrayVar(&f.tables, "table", nil, "PostgreSQL table whose changes to stream, schema.table (repeatable; required with --postgres)")
	fl.StringVar(&f.view, "view", "", "what PostgreSQL change records carry: KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES (default)")
	fl.StringVar(&f.slot, "slot", "", "PostgreSQL logical replication slot (default gust_NAME)")
	fl.StringVar(&f.pub, "publication", "", "PostgreSQL publication (default gust_NAME)")
	fl.StringVar(&f.queue, "queue", "", "RabbitMQ queue to read (default: NAME)")
	fl.StringVar(&f.stream, "stream", "", "JetStream stream (required with --nats) or Redis stream key (default: NAME)")
	fl.StringVar(&f.subject, "subject", "", "only the JetStream subjects matching this filter (default: all of the stream's)")
	fl.StringVar(&f.kind, "kind", esm.SemanticsQueue, "queue (SQS events) or stream (Kinesis events)")
	fl.IntVar(&f.shards, "shards", 0, "shards of a stream source, by partition key (default 1)")
	fl.DurationVar(&f.visibility, "visibility-timeout", 0, "how long a failed message of a queue source stays hidden (default 30s)")
	fl.IntVar(&f.maxReceive, "max-receive", 0, "receives after which a failed message is dead-lettered (NATS, Redis; needs --dead-letter)")
	fl.StringVar(&f.deadLetter, "dead-letter", "", "subject (NATS) or stream key (Redis) that dead letters go to; needs --max-receive")
	fl.BoolVar(&f.asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

// source builds the source the flags describe, refusing combinations that
// mean nothing for the chosen broker. Errors never quote a URL: it may
// hold a password.
func (f *sourceFlags) source(cmd *cobra.Command, name string) (esm.Source, error) {
	bad := func(format string, args ...any) (esm.Source, error) {
		return esm.Source{}, usageError{cmd: cmd, err: fmt.Errorf(format, args...)}
	}
	set := cmd.Flags().Changed
	src := esm.Source{Name: name, Semantics: f.kind, Queue: f.queue, Stream: f.stream, Subject: f.subject,
		Shards: f.shards, MaxReceiveCount: f.maxReceive, DeadLetter: f.deadLetter,
		Tables: f.tables, StreamViewType: f.view, Slot: f.slot, Publication: f.pub}
	n := 0
	for _, b := range []struct{ broker, url string }{{esm.BrokerRabbitMQ, f.rabbitmq}, {esm.BrokerNATS, f.nats},
		{esm.BrokerRedis, f.redis}, {esm.BrokerPostgres, f.postgres}} {
		if set(b.broker) {
			n++
			src.Broker, src.URL = b.broker, b.url
		}
	}
	if n != 1 {
		return bad("give exactly one of --rabbitmq URL, --nats URL or --redis URL, or --postgres URL with --table")
	}
	if src.URL == "-" {
		src.URL = os.Getenv(sourceURLEnv)
		if src.URL == "" {
			return bad("--%s - reads the URL from $%s, which is empty", src.Broker, sourceURLEnv)
		}
	}
	if src.URL == "" {
		return bad("--%s needs a URL", src.Broker)
	}
	if f.kind != esm.SemanticsQueue && f.kind != esm.SemanticsStream {
		return bad("--kind must be queue or stream, not %q", f.kind)
	}
	if src.Broker == esm.BrokerPostgres {
		return f.postgresSource(cmd, src)
	}
	for _, flag := range []string{"table", "view", "slot", "publication"} {
		if set(flag) {
			return bad("--%s does not apply here: only a --postgres source has it", flag)
		}
	}
	for _, c := range []struct {
		flag, why string
		wrong     bool
	}{
		{"queue", "only a RabbitMQ source reads a queue; NATS and Redis read --stream", src.Broker != esm.BrokerRabbitMQ},
		{"stream", "a RabbitMQ source reads --queue", src.Broker == esm.BrokerRabbitMQ},
		{"subject", "only a NATS source filters by subject", src.Broker != esm.BrokerNATS},
		{"kind", "a RabbitMQ source is a queue", src.Broker == esm.BrokerRabbitMQ && f.kind == esm.SemanticsStream},
		{"shards", "only a source of --kind stream has shards", f.kind != esm.SemanticsStream},
		{"visibility-timeout", "only a source of --kind queue has a visibility timeout", f.kind != esm.SemanticsQueue},
		{"max-receive", "only a NATS or Redis source of --kind queue dead-letters itself; a RabbitMQ queue uses its own delivery limit and dead-letter exchange", src.Broker == esm.BrokerRabbitMQ || f.kind != esm.SemanticsQueue},
		{"dead-letter", "only a NATS or Redis source of --kind queue dead-letters itself; a RabbitMQ queue uses its own delivery limit and dead-letter exchange", src.Broker == esm.BrokerRabbitMQ || f.kind != esm.SemanticsQueue},
	} {
		if c.wrong && set(c.flag) {
			return bad("--%s does not apply here: %s", c.flag, c.why)
		}
	}
	if src.Broker == esm.BrokerNATS && src.Stream == "" {
		return bad("--nats needs --stream: the JetStream stream to read")
	}
	if set("shards") && (f.shards < 1 || f.shards > 1000) {
		return bad("--shards must be 1 to 1000, not %d", f.shards)
	}
	if set("visibility-timeout") {
		if f.visibility < time.Millisecond || f.visibility > maxVisibilityTimeout {
			return bad("--visibility-timeout must be from 1ms to 12h, not %s", f.visibility)
		}
		src.VisibilityTimeoutMillis = f.visibility.Milliseconds()
	}
	if set("max-receive") && f.maxReceive < 1 {
		return bad("--max-receive must be 1 or more, not %d", f.maxReceive)
	}
	// Together or not at all: alone, a receive limit would drop messages
	// on NATS and do nothing on Redis.
	if f.deadLetter != "" && f.maxReceive == 0 {
		return bad("--dead-letter needs --max-receive N: how many receives a message gets before it is dead-lettered")
	}
	if f.maxReceive > 0 && f.deadLetter == "" {
		return bad("--max-receive needs --dead-letter: the subject or stream key that messages past the limit move to")
	}
	return src, nil
}

// postgresSource finishes a --postgres source: a stream of one shard of
// the --table changes. The server checks the names.
func (f *sourceFlags) postgresSource(cmd *cobra.Command, src esm.Source) (esm.Source, error) {
	set := cmd.Flags().Changed
	for _, flag := range []string{"queue", "stream", "subject", "visibility-timeout", "max-receive", "dead-letter"} {
		if set(flag) {
			return esm.Source{}, usageError{cmd: cmd, err: fmt.Errorf("--%s does not apply here: a --postgres source reads --table changes", flag)}
		}
	}
	if set("kind") && f.kind != esm.SemanticsStream {
		return esm.Source{}, usageError{cmd: cmd, err: errors.New("--kind: a --postgres source is a stream (DynamoDB stream records)")}
	}
	if set("shards") && f.shards != 1 {
		return esm.Source{}, usageError{cmd: cmd, err: errors.New("--shards: a --postgres source has one shard, as its replication slot has one reader")}
	}
	if len(f.tables) == 0 {
		return esm.Source{}, usageError{cmd: cmd, err: errors.New("--postgres needs --table schema.table: the tables whose changes to stream")}
	}
	src.Semantics = esm.SemanticsStream
	return src, nil
}

// printMappingHint tells on stderr how to map the new source to a
// function, with its ARNs filled in.
func (a *app) printMappingHint(out sourceInfo) {
	src := out.Source
	what := src.Broker + " queue " + src.Queue
	switch src.Broker {
	case esm.BrokerPostgres:
		what = "postgres tables " + reads(src)
	case esm.BrokerNATS, esm.BrokerRedis:
		what = src.Broker + " stream " + src.Stream
	}
	fmt.Fprintf(a.stderr, "created source %s (%s, %s semantics)\n", src.Name, what, src.Semantics)
	fmt.Fprintln(a.stderr, "map it to a function with:")
	start := ""
	if src.Semantics == esm.SemanticsStream {
		start = " --starting-position TRIM_HORIZON"
	}
	fmt.Fprintf(a.stderr, "  aws lambda create-event-source-mapping --function-name FUNCTION --event-source-arn %s%s\n", out.EventSourceArn, start)
	if out.MQBrokerArn != "" {
		fmt.Fprintln(a.stderr, "or, for Amazon MQ (aws:rmq) events:")
		fmt.Fprintf(a.stderr, "  aws lambda create-event-source-mapping --function-name FUNCTION --event-source-arn %s --queues %s\n", out.MQBrokerArn, src.Queue)
	}
}

func (a *app) sourceLsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--json]",
		Aliases: []string{"list"},
		Short:   "List sources",
		Long: `List sources, one per line: name, broker, kind (queue or stream), what it
reads, its URL with the password shown as ****, and its event source ARN.
With --json the server's answer is printed: {"Sources":[…]}.`,
		Example: `  gust source ls
  gust source ls --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return getAndPrint(a, cmd.Context(), "/_gust/v1/sources", "list sources", asJSON, func(out struct{ Sources []sourceInfo }) error {
				if len(out.Sources) == 0 {
					fmt.Fprintln(a.stderr, "no sources")
					return nil
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SOURCE\tBROKER\tKIND\tREADS\tURL\tEVENT SOURCE ARN")
				for _, s := range out.Sources {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Source.Name, s.Source.Broker, s.Source.Semantics, reads(s.Source), s.Source.URL, s.EventSourceArn)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

// reads names what a source consumes: its queue, its stream and the
// subject filter, or its tables.
func reads(src esm.Source) string {
	switch {
	case src.Broker == esm.BrokerPostgres:
		return strings.Join(src.Tables, ",")
	case src.Broker == esm.BrokerRabbitMQ:
		return src.Queue
	case src.Subject != "":
		return src.Stream + " (" + src.Subject + ")"
	default:
		return src.Stream
	}
}

func (a *app) sourceShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME [--json]",
		Short: "Print a source and its ARNs",
		Long: `Print a source's settings (its URL with the password shown as ****) and
the ARNs a mapping names it by. With --json the server's answer is
printed: {"Source":{…},"EventSourceArn":"…","MQBrokerArn":"…"}.`,
		Example: `  gust source show orders`,
		Args:    exactArgs(1, "a source name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return getAndPrint(a, cmd.Context(), "/_gust/v1/sources/"+url.PathEscape(args[0]), "source "+args[0], asJSON, a.printSource)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

// printSource writes one source as aligned "key: value" lines, leaving
// out the settings that do not apply to its broker and kind.
func (a *app) printSource(out sourceInfo) error {
	s := out.Source
	lines := [][2]string{{"source", s.Name}, {"broker", s.Broker}, {"kind", s.Semantics}, {"url", s.URL}}
	switch s.Broker {
	case esm.BrokerRabbitMQ:
		lines = append(lines, [2]string{"queue", s.Queue})
	case esm.BrokerPostgres:
		lines = append(lines, [2]string{"tables", reads(s)}, [2]string{"stream view type", s.StreamViewType},
			[2]string{"slot", s.Slot}, [2]string{"publication", s.Publication})
	default:
		lines = append(lines, [2]string{"stream", s.Stream})
	}
	if s.Broker == esm.BrokerNATS {
		lines = append(lines, [2]string{"subject", orDash(s.Subject)})
	}
	if s.Semantics == esm.SemanticsStream {
		lines = append(lines, [2]string{"shards", strconv.Itoa(s.Shards)})
	} else {
		lines = append(lines, [2]string{"visibility timeout", s.VisibilityTimeout().String()})
	}
	if s.MaxReceiveCount > 0 {
		lines = append(lines, [2]string{"max receive", strconv.Itoa(s.MaxReceiveCount)}, [2]string{"dead letter", orDash(s.DeadLetter)})
	}
	lines = append(lines, [2]string{"created", s.Created.UTC().Format(time.RFC3339)}, [2]string{"event source arn", out.EventSourceArn})
	if out.MQBrokerArn != "" {
		lines = append(lines, [2]string{"mq broker arn", out.MQBrokerArn})
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 1, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "%s:\t%s\n", l[0], l[1])
	}
	return tw.Flush()
}

func (a *app) sourceRmCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"delete"},
		Short:   "Delete a source",
		Long: `Delete a source. A source that event source mappings still use is kept
(ResourceInUseException, naming their UUIDs): delete those mappings first
with 'aws lambda delete-event-source-mapping --uuid UUID'. The queue or
stream on the broker is left as it is; a PostgreSQL source's replication
slot is dropped (so that the database stops keeping WAL for it), its
publication kept.`,
		Example: `  gust source rm orders`,
		Args:    exactArgs(1, "a source name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			if err := c.send(cmd.Context(), http.MethodDelete, "/_gust/v1/sources/"+url.PathEscape(args[0]), nil, nil); err != nil {
				var apiErr *GustAPIError
				if errors.As(err, &apiErr) && apiErr.Code == "ResourceInUseException" {
					// The server's message names the mappings; say what to do about them.
					fmt.Fprintf(a.stderr, "gust: %s\nDelete those mappings first: aws lambda delete-event-source-mapping --uuid UUID\n", describeError(err))
					return exitError{code: 1}
				}
				return fmt.Errorf("delete source %s: %w", args[0], err)
			}
			fmt.Fprintf(a.stderr, "deleted source %s\n", args[0])
			return nil
		},
	}
}
