package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"gust/internal/gusttest"
)

// sourcePassword is the broker password the tests' URLs carry; it must
// appear in no answer and no output.
const sourcePassword = "s3cr3t-Pa55"

// checkNoPassword fails when any of outs holds sourcePassword.
func checkNoPassword(t *testing.T, what string, outs ...string) {
	t.Helper()
	for _, out := range outs {
		if strings.Contains(out, sourcePassword) {
			t.Errorf("%s shows the broker password:\n%s", what, out)
		}
	}
}

// rawSend calls a /_gust/v1 endpoint as the CLI's client does and returns
// the answer's body as sent.
func rawSend(t *testing.T, method, path string, body any) string {
	t.Helper()
	c, err := newApp(nil, nil, nil).gustClient()
	if err != nil {
		t.Fatal(err)
	}
	var in []byte
	if body != nil {
		if in, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	var out json.RawMessage
	if err := c.send(context.Background(), method, path, in, &out); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return string(out)
}

func TestSourceCommands(t *testing.T) {
	srv := gusttest.StartServer(t)
	connectTo(t, srv)

	if out, errOut := mustRun(t, "source", "ls"); out != "" || !strings.Contains(errOut, "no sources") {
		t.Errorf("source ls with none: stdout %q, stderr %q", out, errOut)
	}

	// A stream source prints its Kinesis ARN, and the command to map it.
	out, errOut := mustRun(t, "source", "create", "clicks", "--nats", "nats://app:"+sourcePassword+"@127.0.0.1:4222",
		"--stream", "CLICKS", "--subject", "clicks.>", "--kind", "stream", "--shards", "4")
	if out != "arn:aws:kinesis:us-east-1:000000000000:stream/clicks\n" {
		t.Errorf("create stream source printed %q, want the Kinesis ARN", out)
	}
	if !strings.Contains(errOut, "aws lambda create-event-source-mapping --function-name FUNCTION --event-source-arn arn:aws:kinesis:us-east-1:000000000000:stream/clicks --starting-position TRIM_HORIZON") {
		t.Errorf("create stream source: stderr lacks the mapping command:\n%s", errOut)
	}
	checkNoPassword(t, "create", out, errOut)

	// A RabbitMQ source prints its SQS ARN, then its Amazon MQ broker ARN.
	out, errOut = mustRun(t, "source", "create", "orders", "--rabbitmq", "amqp://guest:"+sourcePassword+"@127.0.0.1:5672/", "--queue", "orders-q")
	m := regexp.MustCompile(`^arn:aws:sqs:us-east-1:000000000000:orders\n(arn:aws:mq:us-east-1:000000000000:broker:orders:b-[0-9a-f-]{36})\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create RabbitMQ source printed %q, want the SQS and the Amazon MQ ARN", out)
	}
	mqARN := m[1]
	if !strings.Contains(errOut, "--event-source-arn "+mqARN+" --queues orders-q") {
		t.Errorf("create RabbitMQ source: stderr lacks the aws:rmq mapping command:\n%s", errOut)
	}

	// A user name without a password may be a token: it is masked too.
	mustRun(t, "source", "create", "tokened", "--nats", "nats://"+sourcePassword+"@127.0.0.1:4222", "--stream", "T")

	// A URL of "-" comes from $GUST_SOURCE_URL.
	t.Setenv("GUST_SOURCE_URL", "redis://:"+sourcePassword+"@127.0.0.1:6379/0")
	out, _ = mustRun(t, "source", "create", "jobs", "--redis", "-", "--visibility-timeout", "1m30s", "--max-receive", "3", "--dead-letter", "jobs-dlq")
	if out != "arn:aws:sqs:us-east-1:000000000000:jobs\n" {
		t.Errorf("create Redis queue source printed %q, want the SQS ARN", out)
	}

	out, _ = mustRun(t, "source", "ls")
	for _, want := range []string{
		`(?m)^SOURCE +BROKER +KIND +READS +URL +EVENT SOURCE ARN$`,
		`(?m)^clicks +nats +stream +CLICKS \(clicks\.>\) +nats://app:\*\*\*\*@127\.0\.0\.1:4222 +arn:aws:kinesis:us-east-1:000000000000:stream/clicks$`,
		`(?m)^jobs +redis +queue +jobs +redis://:\*\*\*\*@127\.0\.0\.1:6379/0 +arn:aws:sqs:us-east-1:000000000000:jobs$`,
		`(?m)^orders +rabbitmq +queue +orders-q +amqp://guest:\*\*\*\*@127\.0\.0\.1:5672/ +arn:aws:sqs:us-east-1:000000000000:orders$`,
		`(?m)^tokened +nats +queue +T +nats://\*\*\*\*@127\.0\.0\.1:4222 +arn:aws:sqs:us-east-1:000000000000:tokened$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("source ls lacks %s:\n%s", want, out)
		}
	}
	checkNoPassword(t, "source ls", out)

	out, _ = mustRun(t, "source", "show", "jobs")
	for _, want := range []string{`(?m)^source: +jobs$`, `(?m)^url: +redis://:\*\*\*\*@127\.0\.0\.1:6379/0$`, `(?m)^visibility timeout: +1m30s$`,
		`(?m)^max receive: +3$`, `(?m)^dead letter: +jobs-dlq$`, `(?m)^event source arn: +arn:aws:sqs:us-east-1:000000000000:jobs$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("source show jobs lacks %s:\n%s", want, out)
		}
	}
	out, _ = mustRun(t, "source", "show", "orders")
	if !regexp.MustCompile(`(?m)^mq broker arn: +`+mqARN+`$`).MatchString(out) || !strings.Contains(out, "visibility timeout: 30s\n") {
		t.Errorf("source show orders lacks its MQ ARN or default visibility timeout:\n%s", out)
	}
	out, _ = mustRun(t, "source", "show", "clicks", "--json")
	var shown sourceInfo
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("source show --json: %v\n%s", err, out)
	}
	if s := shown.Source; s.Shards != 4 || s.Subject != "clicks.>" || s.Stream != "CLICKS" || s.Semantics != "stream" || shown.MQBrokerArn != "" {
		t.Errorf("source show clicks --json = %+v", shown)
	}

	// What the server answers, byte for byte, holds no password either.
	created := rawSend(t, http.MethodPost, "/_gust/v1/sources",
		map[string]any{"Name": "raw", "Broker": "redis", "URL": "rediss://user:" + sourcePassword + "@127.0.0.1:6380", "Semantics": "stream"})
	listed := rawSend(t, http.MethodGet, "/_gust/v1/sources", nil)
	got := rawSend(t, http.MethodGet, "/_gust/v1/sources/orders", nil)
	checkNoPassword(t, "the API", created, listed, got)
	if !strings.Contains(created, `"url":"rediss://user:****@127.0.0.1:6380"`) || !strings.Contains(created, `"EventSourceArn":"arn:aws:kinesis:us-east-1:000000000000:stream/raw"`) ||
		strings.Contains(created, "MQBrokerArn") {
		t.Errorf("POST /_gust/v1/sources answered %s", created)
	}
	if !strings.Contains(got, `"MQBrokerArn":"`+mqARN+`"`) {
		t.Errorf("GET /_gust/v1/sources/orders answered %s, want MQBrokerArn %s", got, mqARN)
	}

	// Refusals come back as the server's exceptions, still without the URL.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"source", "create", "orders", "--redis", "redis://:" + sourcePassword + "@127.0.0.1:6379"}, "ResourceConflictException: Source already exists: orders"},
		{[]string{"source", "create", "bad.name", "--redis", "redis://127.0.0.1:6379"}, "InvalidParameterValueException: Invalid source name"},
		{[]string{"source", "create", "wrong", "--redis", "amqp://u:" + sourcePassword + "@127.0.0.1"}, "InvalidParameterValueException: A redis source needs a URL with scheme redis or rediss."},
		{[]string{"source", "show", "nope"}, "ResourceNotFoundException: Source not found: nope"},
		{[]string{"source", "show", "a*b"}, "ResourceNotFoundException: Source not found: a*b"},
		{[]string{"source", "rm", "nope"}, "ResourceNotFoundException: Source not found: nope"},
	} {
		code, out, errOut := runCLI(t, "", tt.args...)
		if code != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("gust %s: exit %d, stderr %q; want 1 and %q", strings.Join(tt.args, " "), code, errOut, tt.want)
		}
		checkNoPassword(t, "a refusal", out, errOut)
	}

	if _, errOut := mustRun(t, "source", "rm", "orders"); !strings.Contains(errOut, "deleted source orders") {
		t.Errorf("source rm: stderr %q", errOut)
	}
	if code, _, errOut := runCLI(t, "", "source", "show", "orders"); code != 1 || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Errorf("source show after rm: exit %d, stderr %q", code, errOut)
	}
	out, _ = mustRun(t, "source", "ls", "--json")
	var list struct{ Sources []sourceInfo }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("source ls --json: %v\n%s", err, out)
	}
	var names []string
	for _, s := range list.Sources {
		names = append(names, s.Source.Name)
	}
	if strings.Join(names, ",") != "clicks,jobs,raw,tokened" {
		t.Errorf("source ls --json after rm lists %v, want clicks, jobs, raw, tokened", names)
	}
}

// TestSourceAuthorization: sources are IAM-authorized like Gust's other
// endpoints: a user needs an Allow for gust:<Operation>.
func TestSourceAuthorization(t *testing.T) {
	srv := gusttest.StartServer(t)
	connectTo(t, srv)
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"gust:ListSources","Resource":"*"}]}`
	if err := os.WriteFile("policy.json", []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := mustRun(t, "iam", "user", "create", "bob")
	key := exportedKey(t, out)
	if code, _, errOut := runAs(t, key, "source", "ls"); code != 1 ||
		!strings.Contains(errOut, "AccessDeniedException: User: arn:aws:iam::000000000000:user/bob is not authorized to perform: gust:ListSources") {
		t.Errorf("source ls without a policy: exit %d, stderr %q; want AccessDeniedException", code, errOut)
	}
	mustRun(t, "iam", "user", "policy", "bob", "policy.json")
	if code, _, errOut := runAs(t, key, "source", "ls"); code != 0 {
		t.Errorf("source ls allowed by policy: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runAs(t, key, "source", "create", "q", "--redis", "redis://127.0.0.1:6379"); code != 1 ||
		!strings.Contains(errOut, "not authorized to perform: gust:CreateSource") {
		t.Errorf("source create not allowed by policy: exit %d, stderr %q", code, errOut)
	}
}

func TestSourceUsageErrors(t *testing.T) {
	t.Setenv("GUST_SOURCE_URL", "")
	pw := "nats://u:" + sourcePassword + "@127.0.0.1:4222"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"source"}, "needs a subcommand"},
		{[]string{"source", "create"}, "needs a source name"},
		{[]string{"source", "create", "s"}, "give exactly one of --rabbitmq URL, --nats URL or --redis URL"},
		{[]string{"source", "create", "s", "--nats", pw, "--redis", "redis://x"}, "give exactly one of"},
		{[]string{"source", "create", "s", "--nats", pw}, "--nats needs --stream"},
		{[]string{"source", "create", "s", "--nats", "-", "--stream", "S"}, "reads the URL from $GUST_SOURCE_URL, which is empty"},
		{[]string{"source", "create", "s", "--redis", ""}, "--redis needs a URL"},
		{[]string{"source", "create", "s", "--nats", pw, "--stream", "S", "--queue", "q"}, "--queue does not apply here"},
		{[]string{"source", "create", "s", "--rabbitmq", "amqp://x", "--stream", "S"}, "--stream does not apply here"},
		{[]string{"source", "create", "s", "--redis", "redis://x", "--subject", "a.b"}, "--subject does not apply here"},
		{[]string{"source", "create", "s", "--rabbitmq", "amqp://x", "--kind", "stream"}, "a RabbitMQ source is a queue"},
		{[]string{"source", "create", "s", "--redis", "redis://x", "--kind", "log"}, `--kind must be queue or stream, not "log"`},
		{[]string{"source", "create", "s", "--redis", "redis://x", "--shards", "2"}, "only a source of --kind stream has shards"},
		{[]string{"source", "create", "s", "--redis", "redis://x", "--kind", "stream", "--shards", "0"}, "--shards must be 1 to 1000"},
		{[]string{"source", "create", "s", "--redis", "redis://x", "--kind", "stream", "--visibility-timeout", "5s"}, "only a source of --kind queue has a visibility timeout"},
		{[]string{"source", "create", "s", "--redis", "redis://x", "--visibility-timeout", "0s"}, "--visibility-timeout must be from 1ms to 12h"},
		{[]string{"source", "create", "s", "--redis", "redis://x", "--dead-letter", "d"}, "--dead-letter needs --max-receive"},
		{[]string{"source", "create", "s", "--redis", "redis://x", "--max-receive", "0"}, "--max-receive must be 1 or more"},
		{[]string{"source", "create", "s", "--nats", pw, "--stream", "S", "--max-receive", "3"}, "--max-receive needs --dead-letter"},
		{[]string{"source", "create", "s", "--rabbitmq", "amqp://x", "--max-receive", "3"}, "a RabbitMQ queue uses its own delivery limit"},
		{[]string{"source", "show"}, "needs a source name"},
		{[]string{"source", "rm", "a", "b"}, "needs a source name"},
		{[]string{"source", "ls", "x"}, "takes no arguments"},
	} {
		code, out, errOut := runCLI(t, "", tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "--help") {
			t.Errorf("gust %s: exit %d, stderr %q; want 2 and %q", strings.Join(tt.args, " "), code, errOut, tt.want)
		}
		checkNoPassword(t, "a usage error", out, errOut)
	}
	code, out, _ := runCLI(t, "", "source", "create", "--help")
	for _, want := range []string{"--rabbitmq", "--nats", "--redis", "--queue", "--stream", "--subject", "--kind", "--shards",
		"--visibility-timeout", "--max-receive", "--dead-letter", "GUST_SOURCE_URL", "--json", "Examples:"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("source create --help (exit %d) lacks %q", code, want)
		}
	}
}
