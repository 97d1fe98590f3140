package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/config"
	"gust/internal/gusttest"
	"gust/internal/pubsub"
)

// snsReport and snsRecord are what testdata/snsfn posts per invocation.
type snsReport struct {
	Function  string          `json:"function"`
	RequestID string          `json:"requestId"`
	Records   []snsRecord     `json:"records"`
	Raw       json.RawMessage `json:"raw"`
	Failed    bool            `json:"failed"`
}

type snsRecord struct {
	SubscriptionArn string            `json:"subscriptionArn"`
	MessageID       string            `json:"messageId"`
	TopicArn        string            `json:"topicArn"`
	Subject         string            `json:"subject"`
	Message         string            `json:"message"`
	Attributes      map[string]string `json:"attributes"`
}

// snsCollector receives snsfn's reports.
type snsCollector struct{ *reportCollector[snsReport] }

func newSNSCollector(t *testing.T) *snsCollector {
	return &snsCollector{newReportCollector[snsReport](t)}
}

// of returns the reports of one function, in arrival order.
func (c *snsCollector) of(function string) []snsReport {
	var out []snsReport
	for _, r := range c.snapshot() {
		if r.Function == function {
			out = append(out, r)
		}
	}
	return out
}

// deploySNSFunction creates testdata/snsfn as name, reporting to c.
func deploySNSFunction(t *testing.T, srv *gusttest.Server, name string, c *snsCollector, env map[string]string) {
	t.Helper()
	vars := map[string]string{"COLLECT_URL": c.srv.URL}
	for k, v := range env {
		vars[k] = v
	}
	createFunction(t, srv.Lambda(), name, types.RuntimeProvidedal2023, "bootstrap", builtFunction(t, "snsfn"), withTimeout(30),
		func(in *lambda.CreateFunctionInput) { in.Environment = &types.Environment{Variables: vars} })
}

// pubsubName is a topic name no other test run uses.
func pubsubName(prefix string) string {
	return fmt.Sprintf("%s%d%04d", prefix, time.Now().UnixNano()%1e9, rand.IntN(10000))
}

// topicCall calls a /_gust/v1/topics endpoint as the account root and
// decodes a 2xx answer into out.
func topicCall(t *testing.T, srv *gusttest.Server, method, path string, in, out any) []byte {
	t.Helper()
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			t.Fatal(err)
		}
	}
	status, _, answer := iamCall(t, srv, iamRootCreds(srv), method, path, body)
	if status/100 != 2 {
		t.Fatalf("%s %s: status %d: %s", method, path, status, answer)
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, answer)
		}
	}
	return answer
}

// topicAnswer is what the topic endpoints answer.
type topicAnswer struct {
	Topic         pubsub.Topic
	TopicArn      string
	Subscriptions []subscriptionAnswer
	Stats         *pubsub.Stats
}

type subscriptionAnswer struct {
	pubsub.Subscription
	SubscriptionArn string
	Warning         string
}

// createTopic creates a topic through the API and returns its ARN.
func createTopic(t *testing.T, srv *gusttest.Server, topic pubsub.Topic) string {
	t.Helper()
	var out topicAnswer
	topicCall(t, srv, http.MethodPost, "/_gust/v1/topics", topic, &out)
	return out.TopicArn
}

// subscribeSNS lets the topic invoke fn (unless allow is false), as
// `aws lambda add-permission` does, and subscribes fn to it.
func subscribeSNS(t *testing.T, srv *gusttest.Server, topic, topicARN, fn, filter string, allow bool) subscriptionAnswer {
	t.Helper()
	if allow {
		if _, err := srv.Lambda().AddPermission(t.Context(), &lambda.AddPermissionInput{FunctionName: aws.String(fn),
			StatementId: aws.String("sns-" + topic), Action: aws.String("lambda:InvokeFunction"),
			Principal: aws.String("sns.amazonaws.com"), SourceArn: aws.String(topicARN)}); err != nil {
			t.Fatalf("AddPermission %s: %v", fn, err)
		}
	}
	var out subscriptionAnswer
	topicCall(t, srv, http.MethodPost, "/_gust/v1/topics/"+topic+"/subscriptions",
		pubsub.Subscription{Endpoint: fn, FilterPolicy: filter}, &out)
	if allow == (out.Warning != "") {
		t.Errorf("subscribe %s (permission %v): warning %q", fn, allow, out.Warning)
	}
	return out
}

// deleteTopic deletes a topic through the API; a server that has stopped
// meanwhile, or a topic already gone, is no failure.
func deleteTopic(t *testing.T, srv *gusttest.Server, name string) {
	req, err := http.NewRequest(http.MethodDelete, srv.Endpoint+"/_gust/v1/topics/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), iamRootCreds(srv), req, hex.EncodeToString(sum[:]), "lambda", srv.Region(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// natsTopic makes a NATS topic on the machine's NATS whose stream goes
// away with the test, and returns its name and ARN.
func natsTopic(t *testing.T, srv *gusttest.Server) (name, arn string) {
	t.Helper()
	needService(t, "NATS", "127.0.0.1:4222")
	name = pubsubName("topic")
	stream := "GUST_TOPIC_" + name
	t.Cleanup(func() { _ = natsJS(t).DeleteStream(context.Background(), stream) })
	arn = createTopic(t, srv, pubsub.Topic{Name: name, Broker: pubsub.BrokerNATS,
		URL: "nats://gust:s3cret-pw@127.0.0.1:4222", Subject: name + ".>"})
	// Runs before the stream's removal (cleanups run last first), so no
	// node recreates the stream of a topic that still exists.
	t.Cleanup(func() { deleteTopic(t, srv, name) })
	return name, arn
}

func publishToNATS(t *testing.T, subject, body string, headers map[string]string) {
	t.Helper()
	msg := nats.NewMsg(subject)
	msg.Data = []byte(body)
	for k, v := range headers {
		msg.Header.Set(k, v)
	}
	if _, err := natsJS(t).PublishMsg(t.Context(), msg); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// waitSettled waits until fn's async queue has run n events and holds no
// more, so that a count taken afterwards is final.
func waitSettled(t *testing.T, srv *gusttest.Server, fn string, n int) {
	t.Helper()
	gusttest.WaitFor(t, 60*time.Second, fmt.Sprintf("%d events of %s to settle", n, fn), func() bool {
		st, err := srv.Async().Stats(context.Background(), fn)
		return err == nil && int(st.Succeeded+st.DeadLettered) >= n && st.Queued == 0 && st.InFlight == 0
	})
}

// checkSNSKeys compares the key sets of an event, level by level, with
// aws-lambda-go's events/testdata/sns-event.json.
func checkSNSKeys(t *testing.T, raw []byte) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	if err != nil {
		t.Fatalf("locate aws-lambda-go: %v", err)
	}
	sample, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "events", "testdata", "sns-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	want, got := jsonKeySets(t, sample), jsonKeySets(t, raw)
	if _, ok := got[".Records.Sns.MessageAttributes.*"]; !ok {
		delete(want, ".Records.Sns.MessageAttributes.*")
	}
	for path, keys := range want {
		if !slices.Equal(keys, got[path]) {
			t.Errorf("keys at %s: got %v, aws-lambda-go's sample has %v", path, got[path], keys)
		}
	}
	if len(got) != len(want) {
		t.Errorf("event has objects at %d paths, the sample at %d", len(got), len(want))
	}
}

func jsonKeySets(t *testing.T, b []byte) map[string][]string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if strings.HasSuffix(path, ".MessageAttributes") {
				for _, attr := range x {
					walk(path+".*", attr)
				}
				return
			}
			var keys []string
			for k, child := range x {
				keys = append(keys, k)
				walk(path+"."+k, child)
			}
			slices.Sort(keys)
			out[path] = keys
		case []any:
			for _, e := range x {
				walk(path, e)
			}
		}
	}
	walk("", v)
	return out
}

// TestPubSubNATSFanOut: one publish on a NATS topic reaches each of two
// subscribed functions exactly once, as a strict events.SNSEvent with the
// headers as Subject and attributes; a filter policy holds back what it
// does not match; a function that does not allow sns.amazonaws.com gets
// nothing (counted as denied); the API never shows the broker password.
func TestPubSubNATSFanOut(t *testing.T) {
	t.Parallel()
	skipShortPubSub(t)
	srv := asyncServer(t)
	col := newSNSCollector(t)
	for _, fn := range []string{"one", "two", "eu", "closed"} {
		deploySNSFunction(t, srv, fn, col, nil)
	}
	name, arn := natsTopic(t, srv)
	subOne := subscribeSNS(t, srv, name, arn, "one", "", true)
	subTwo := subscribeSNS(t, srv, name, arn, "two", "", true)
	subscribeSNS(t, srv, name, arn, "eu", `{"region":["eu"]}`, true)
	subscribeSNS(t, srv, name, arn, "closed", "", false)

	publishToNATS(t, name+".orders", `{"order":1}`, map[string]string{"Subject": "New order", "region": "us"})
	publishToNATS(t, name+".orders", `{"order":2}`, map[string]string{"region": "eu"})
	waitSettled(t, srv, "one", 2)
	waitSettled(t, srv, "two", 2)
	waitSettled(t, srv, "eu", 1)

	ids := map[string][]string{} // message → MessageIds seen
	for fn, sub := range map[string]subscriptionAnswer{"one": subOne, "two": subTwo} {
		reports := col.of(fn)
		if len(reports) != 2 {
			t.Fatalf("%s ran %d times, want once per message", fn, len(reports))
		}
		for _, rep := range reports {
			checkSNSKeys(t, rep.Raw)
			rec := rep.Records[0]
			ids[rec.Message] = append(ids[rec.Message], rec.MessageID)
			if rec.SubscriptionArn != sub.SubscriptionArn || rec.TopicArn != arn {
				t.Errorf("%s: subscription %s, topic %s", fn, rec.SubscriptionArn, rec.TopicArn)
			}
			if rec.Message == `{"order":1}` && (rec.Subject != "New order" || rec.Attributes["region"] != "String:us" || len(rec.Attributes) != 1) {
				t.Errorf("%s: record %+v", fn, rec)
			}
		}
	}
	for msg, seen := range ids {
		if len(seen) != 2 || seen[0] != seen[1] {
			t.Errorf("message %s had MessageIds %v, want one id for both subscribers", msg, seen)
		}
	}
	if eu := col.of("eu"); len(eu) != 1 || eu[0].Records[0].Message != `{"order":2}` {
		t.Errorf("the filtered subscription got %+v", eu)
	}
	var got topicAnswer
	gusttest.WaitFor(t, 10*time.Second, "the denied events to be counted", func() bool {
		answer := topicCall(t, srv, http.MethodGet, "/_gust/v1/topics/"+name, nil, &got)
		if strings.Contains(string(answer), "s3cret-pw") {
			t.Fatalf("GetTopic shows the broker password: %s", answer)
		}
		return got.Stats != nil && got.Stats.EventsDenied == 2
	})
	if n := len(col.of("closed")); n != 0 || got.Stats.EventsQueued != 5 || got.Stats.EventsFiltered != 1 {
		t.Errorf("closed ran %d times; stats %+v", n, got.Stats)
	}
}

// TestPubSubMQTTFanOut: one QoS 1 publish on an MQTT topic reaches each
// of two subscribed functions exactly once.
func TestPubSubMQTTFanOut(t *testing.T) {
	t.Parallel()
	skipShortPubSub(t)
	needService(t, "Mosquitto", "127.0.0.1:1883")
	srv := asyncServer(t)
	col := newSNSCollector(t)
	name, mqttTopic := pubsubName("mqtt"), pubsubName("gust-test/")+"/events"
	deploySNSFunction(t, srv, "one", col, nil)
	deploySNSFunction(t, srv, "two", col, nil)
	arn := createTopic(t, srv, pubsub.Topic{Name: name, Broker: pubsub.BrokerMQTT, URL: "tcp://127.0.0.1:1883", MQTTTopic: mqttTopic})
	t.Cleanup(func() { deleteTopic(t, srv, name) }) // clears the node's MQTT session
	subscribeSNS(t, srv, name, arn, "one", "", true)
	subscribeSNS(t, srv, name, arn, "two", "", true)

	// The node subscribes in the background: publish until it has taken one.
	publisher := mqttPublisher(t)
	gusttest.WaitFor(t, 30*time.Second, "the node's MQTT subscription", func() bool {
		var got topicAnswer
		topicCall(t, srv, http.MethodGet, "/_gust/v1/topics/"+name, nil, &got)
		if got.Stats.MessagesReceived > 0 {
			return true
		}
		publishMQTTMsg(t, publisher, mqttTopic, "probe")
		return false
	})
	publishMQTTMsg(t, publisher, mqttTopic, "hello from MQTT")
	gusttest.WaitFor(t, 30*time.Second, "the message at both subscribers", func() bool {
		return countMessage(col.of("one"), "hello from MQTT") == 1 && countMessage(col.of("two"), "hello from MQTT") == 1
	})
	var got topicAnswer
	topicCall(t, srv, http.MethodGet, "/_gust/v1/topics/"+name, nil, &got)
	waitSettled(t, srv, "one", int(got.Stats.MessagesReceived))
	waitSettled(t, srv, "two", int(got.Stats.MessagesReceived))
	for _, fn := range []string{"one", "two"} {
		if n := countMessage(col.of(fn), "hello from MQTT"); n != 1 {
			t.Errorf("%s got the message %d times, want once", fn, n)
		}
		rep := col.of(fn)[len(col.of(fn))-1]
		checkSNSKeys(t, rep.Raw)
		if rec := rep.Records[0]; rec.Subject != "" || len(rec.Attributes) != 0 || rec.TopicArn != arn {
			t.Errorf("%s: MQTT record %+v", fn, rec)
		}
	}
}

// skipShortPubSub skips the pub/sub tests under -short: they do not
// depend on the sandbox, and the full run covers them.
func skipShortPubSub(t *testing.T) {
	if testing.Short() {
		t.Skip("pub/sub fan-out is sandbox-independent; covered by the full run")
	}
}

func countMessage(reports []snsReport, msg string) int {
	n := 0
	for _, r := range reports {
		if r.Records[0].Message == msg {
			n++
		}
	}
	return n
}

// mqttPublisher connects a publisher to the machine's Mosquitto.
func mqttPublisher(t *testing.T) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://127.0.0.1:1883").SetClientID(pubsubName("gust-test-pub")))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to Mosquitto: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publishMQTTMsg(t *testing.T, c mqtt.Client, topic, body string) {
	t.Helper()
	if tok := c.Publish(topic, 1, false, body); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish to %s: %v", topic, tok.Error())
	}
}

// TestPubSubFailingSubscriberIsDeadLettered: a subscriber that fails is
// retried by the async queue and dead-lettered, with the SNS event, while
// the other subscriber gets the message once.
func TestPubSubFailingSubscriberIsDeadLettered(t *testing.T) {
	t.Parallel()
	skipShortPubSub(t)
	srv := asyncServer(t)
	col := newSNSCollector(t)
	deploySNSFunction(t, srv, "good", col, nil)
	deploySNSFunction(t, srv, "bad", col, map[string]string{"FAIL": "1"})
	dlq := pubsubName("sns-dlq-")
	if _, err := srv.Lambda().UpdateFunctionConfiguration(t.Context(), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("bad"), DeadLetterConfig: &types.DeadLetterConfig{TargetArn: aws.String(queueARN(dlq))}}); err != nil {
		t.Fatalf("set dead-letter config: %v", err)
	}
	putEventInvokeConfig(t, srv.Lambda(), "bad", 1, "", "")
	name, arn := natsTopic(t, srv)
	subscribeSNS(t, srv, name, arn, "good", "", true)
	subscribeSNS(t, srv, name, arn, "bad", "", true)

	publishToNATS(t, name+".jobs", "job 1", nil)
	msgs := deadLetters(t, srv, dlq, 1, 60*time.Second)
	waitSettled(t, srv, "good", 1)
	if n := len(col.of("good")); n != 1 {
		t.Errorf("good ran %d times, want once", n)
	}
	bad := col.of("bad")
	if len(bad) != 2 || !bad[0].Failed || bad[0].Records[0].MessageID != bad[1].Records[0].MessageID ||
		bad[0].RequestID != bad[1].RequestID {
		t.Fatalf("bad ran %d times (%+v), want two attempts of one event", len(bad), bad)
	}
	var ev struct {
		Records []struct {
			Sns struct{ Message, MessageId string }
		}
	}
	if err := json.Unmarshal(msgs[0].Body, &ev); err != nil || len(ev.Records) != 1 || ev.Records[0].Sns.Message != "job 1" ||
		ev.Records[0].Sns.MessageId != bad[0].Records[0].MessageID {
		t.Errorf("dead letter = %s (%v), want the SNS event", msgs[0].Body, err)
	}
}

// TestPubSubNATSDeliveredAfterRestart: a message published while Gust is
// stopped waits in the topic's stream and is delivered once Gust starts.
func TestPubSubNATSDeliveredAfterRestart(t *testing.T) {
	t.Parallel()
	skipShortPubSub(t)
	srv := asyncServer(t)
	col := newSNSCollector(t)
	deploySNSFunction(t, srv, "f", col, nil)
	name, arn := natsTopic(t, srv)
	subscribeSNS(t, srv, name, arn, "f", "", true)
	publishToNATS(t, name+".a", "before", nil)
	gusttest.WaitFor(t, 30*time.Second, "the first message", func() bool { return len(col.of("f")) == 1 })

	srv.Stop()
	publishToNATS(t, name+".a", "while stopped", nil)
	if st, err := natsJS(t).Stream(t.Context(), "GUST_TOPIC_"+name); err != nil || st.CachedInfo().State.Msgs != 2 {
		t.Fatalf("the topic's stream should hold both messages: %v", err)
	}
	cfg := srv.Config
	cfg.Listen = strings.TrimPrefix(srv.Endpoint, "http://")
	again := gusttest.StartServer(t, func(c *config.Server) { *c = cfg })
	waitSettled(t, again, "f", 1)
	gusttest.WaitFor(t, 30*time.Second, "the message published while stopped", func() bool { return len(col.of("f")) == 2 })
	if got := col.of("f")[1].Records[0].Message; got != "while stopped" {
		t.Errorf("after the restart f got %q", got)
	}
}
