package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"gust/internal/gusttest"
)

// needNATS skips the test without the machine's NATS, or fails it when
// CI=true: CI must test it.
func needNATS(t *testing.T) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:4222", 2*time.Second)
	if err == nil {
		conn.Close()
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("NATS is not reachable at 127.0.0.1:4222: %v", err)
	}
	t.Skipf("NATS is not reachable at 127.0.0.1:4222: %v", err)
}

// TestTopicCommands drives `gust topic` against a server and the
// machine's NATS: create prints the ARN, list and show hide the password,
// subscribe prints the subscription ARN and warns about the missing
// permission, unsubscribe takes an id or an ARN, rm deletes.
func TestTopicCommands(t *testing.T) {
	needNATS(t)
	srv := gusttest.StartServer(t)
	connectTo(t, srv)
	name := fmt.Sprintf("clitopic%d", time.Now().UnixNano()%1e9)
	stream := "GUST_TOPIC_" + name
	t.Cleanup(func() { dropStream(stream) })

	if out, errOut := mustRun(t, "topic", "ls"); out != "" || !strings.Contains(errOut, "no topics") {
		t.Errorf("topic ls with none: stdout %q, stderr %q", out, errOut)
	}
	t.Setenv(topicURLEnv, "nats://gust:"+sourcePassword+"@127.0.0.1:4222")
	out, errOut := mustRun(t, "topic", "create", name, "--nats", "-", "--subject", name+".>")
	arn := "arn:aws:sns:us-east-1:000000000000:" + name
	if out != arn+"\n" || !strings.Contains(errOut, "gust topic subscribe "+name+" --function FUNCTION") {
		t.Errorf("create: stdout %q, stderr %q", out, errOut)
	}
	checkNoPassword(t, "create", out, errOut)

	ls, _ := mustRun(t, "topic", "ls")
	if !strings.Contains(ls, "nats://gust:****@127.0.0.1:4222") || !strings.Contains(ls, name+".> ("+stream+")") {
		t.Errorf("topic ls:\n%s", ls)
	}
	asJSON, _ := mustRun(t, "topic", "ls", "--json")
	checkNoPassword(t, "ls", ls, asJSON, rawSend(t, "GET", "/_gust/v1/topics/"+name, nil))

	if err := os.WriteFile("app.py", []byte("def handler(event, context):\n    return event\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "deploy", ".", "--name", "fn", "--runtime", "python3.12", "--handler", "app.handler")
	out, errOut = mustRun(t, "topic", "subscribe", name, "--function", "fn", "--filter-policy", `{"region":["eu"]}`)
	subLine := regexp.MustCompile(`^` + regexp.QuoteMeta(arn) + `:([0-9a-f-]{36})\n$`).FindStringSubmatch(out)
	if subLine == nil {
		t.Fatalf("subscribe printed %q, want the subscription ARN", out)
	}
	if !strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, "aws lambda add-permission --function-name fn") {
		t.Errorf("subscribe without permission: stderr %q lacks the warning", errOut)
	}

	show, _ := mustRun(t, "topic", "show", name)
	for _, want := range []string{`(?m)^topic: +` + name + `$`, `(?m)^stream: +` + stream + `$`, `(?m)^subscriptions: +1$`,
		`(?m)^this node: +0 received`, regexp.QuoteMeta(subLine[1]) + ` +arn:aws:lambda:us-east-1:000000000000:function:fn +\{"region":\["eu"\]\} \(MessageAttributes\)`} {
		if !regexp.MustCompile(want).MatchString(show) {
			t.Errorf("topic show lacks %s:\n%s", want, show)
		}
	}
	var shown topicInfo
	showJSON, _ := mustRun(t, "topic", "show", name, "--json")
	if err := json.Unmarshal([]byte(showJSON), &shown); err != nil || shown.Stats == nil || len(shown.Subscriptions) != 1 ||
		shown.Subscriptions[0].SubscriptionArn != strings.TrimSpace(out) || shown.Subscriptions[0].Protocol != "lambda" {
		t.Errorf("show --json = %+v, %v", shown, err)
	}

	mustRun(t, "topic", "unsubscribe", name, strings.TrimSpace(out))
	if show, _ := mustRun(t, "topic", "show", name); !strings.Contains(show, "subscriptions: 0") {
		t.Errorf("after unsubscribe:\n%s", show)
	}
	code, _, errOut := runCLI(t, "", "topic", "unsubscribe", name, "no-such-id")
	if code != 1 || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Errorf("unsubscribe unknown id: exit %d, stderr %q", code, errOut)
	}
	mustRun(t, "topic", "rm", name)
	code, _, errOut = runCLI(t, "", "topic", "show", name)
	if code != 1 || !strings.Contains(errOut, "Topic does not exist") {
		t.Errorf("show after rm: exit %d, stderr %q", code, errOut)
	}
}

// dropStream deletes a stream of the machine's NATS, ignoring failures.
func dropStream(name string) {
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		return
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err == nil {
		_ = js.DeleteStream(name, nats.Context(context.Background()))
	}
}

func TestTopicUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"topic"}, "gust topic needs a subcommand"},
		{[]string{"topic", "create"}, "needs a topic name"},
		{[]string{"topic", "create", "t"}, "exactly one of --nats URL or --mqtt URL"},
		{[]string{"topic", "create", "t", "--nats", "nats://h", "--mqtt", "tcp://h"}, "exactly one of"},
		{[]string{"topic", "create", "t", "--nats", "nats://h"}, "--nats needs --subject"},
		{[]string{"topic", "create", "t", "--nats", "nats://h", "--subject", "s", "--topic", "x"}, "a NATS topic takes --subject"},
		{[]string{"topic", "create", "t", "--mqtt", "tcp://h"}, "--mqtt needs --topic"},
		{[]string{"topic", "create", "t", "--mqtt", "tcp://h", "--topic", "x", "--stream", "S"}, "an MQTT topic takes --topic"},
		{[]string{"topic", "create", "t", "--mqtt", "-", "--topic", "x"}, "$GUST_TOPIC_URL, which is empty"},
		{[]string{"topic", "subscribe", "t"}, "--function is required"},
		{[]string{"topic", "subscribe", "t", "--function", "f", "--filter-policy-scope", "Body"}, "MessageAttributes or MessageBody"},
		{[]string{"topic", "unsubscribe", "t"}, "needs a topic name and a subscription id"},
		{[]string{"topic", "show"}, "needs a topic name"},
		{[]string{"topic", "rm"}, "needs a topic name"},
	}
	t.Setenv(topicURLEnv, "")
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := runCLI(t, "", tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, tt.want)
			}
		})
	}
}
