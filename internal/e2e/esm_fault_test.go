package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/gusttest"
)

// esmHandler reports the message ids of its batch to the collector after
// holding the batch a while, so that a kill lands mid-batch.
const esmHandler = `import json, os, time, urllib.request

URL = os.environ["COLLECTOR_URL"]

def handler(event, context):
    ids = [r["messageId"] for r in event["Records"]]
    time.sleep(0.3)
    req = urllib.request.Request(URL, data=json.dumps({"ids": ids}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        r.read()
    return {}
`

// idCollector counts the deliveries of each message id.
type idCollector struct {
	mu   sync.Mutex
	seen map[string]int
}

func (c *idCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ IDs []string }
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, id := range body.IDs {
		c.seen[id]++
	}
	c.mu.Unlock()
}

func (c *idCollector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// TestESMRabbitMQKill is the fault case for queues: Gust is killed
// with SIGKILL while batches from a RabbitMQ queue are being processed;
// after a restart every message is delivered and the queue drains, so
// nothing is lost (messages of the killed batches come again).
func TestESMRabbitMQKill(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: builds gust and kills a real server; skipped with -short")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("fault test needs /usr/bin/python3")
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:5672", 2*time.Second); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("RabbitMQ is not reachable: %v", err)
		}
		t.Skipf("RabbitMQ is not reachable: %v", err)
	} else {
		conn.Close()
	}
	const total = 120
	queue := fmt.Sprintf("esm-kill-%d", time.Now().UnixNano())
	ch := declareKillQueue(t, queue)
	for i := range total {
		if err := ch.PublishWithContext(context.Background(), "", queue, false, false, amqp.Publishing{
			MessageId: fmt.Sprintf("m-%03d", i), Body: []byte(fmt.Sprintf(`{"n":%d}`, i)), DeliveryMode: amqp.Persistent,
		}); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}

	col := &idCollector{seen: map[string]int{}}
	colSrv := httptest.NewServer(col)
	t.Cleanup(colSrv.Close)
	srv := newFaultServer(t)
	srv.start(t)
	c := srv.lambda()
	ctx := context.Background()
	if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("drain"),
		Runtime:      types.RuntimePython312,
		Handler:      aws.String("lambda_function.handler"),
		Role:         aws.String("arn:aws:iam::000000000000:role/lambda-role"),
		Timeout:      aws.Int32(15),
		Code:         &types.FunctionCode{ZipFile: gusttest.Zip(t, map[string]string{"lambda_function.py": esmHandler})},
		Environment:  &types.Environment{Variables: map[string]string{"COLLECTOR_URL": colSrv.URL}},
	}); err != nil {
		t.Fatalf("create function: %v", err)
	}
	create := exec.Command(srv.bin, "--endpoint", srv.endpoint(), "source", "create", queue,
		"--rabbitmq", "amqp://guest:guest@127.0.0.1:5672/", "--queue", queue, "--visibility-timeout", "1s")
	create.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+faultKeyID, "AWS_SECRET_ACCESS_KEY="+faultSecret)
	out, err := create.CombinedOutput()
	if err != nil {
		t.Fatalf("gust source create: %v\n%s", err, out)
	}
	arn := regexp.MustCompile(`arn:aws:sqs:\S+`).FindString(string(out))
	if arn == "" {
		t.Fatalf("gust source create printed no SQS ARN:\n%s", out)
	}
	if _, err := c.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("drain"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(5),
		ScalingConfig: &types.ScalingConfig{MaximumConcurrency: aws.Int32(2)},
	}); err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	gusttest.WaitFor(t, 60*time.Second, "some batches before the kill", func() bool { return col.distinct() >= 20 })
	srv.kill(t)
	srv.wait(t)
	if n := col.distinct(); n >= total {
		t.Fatalf("all %d messages were processed before the kill; the test needs the kill to land mid-stream", n)
	}
	srv.start(t)
	gusttest.WaitFor(t, 120*time.Second, "every message after the restart", func() bool { return col.distinct() == total })
	gusttest.WaitFor(t, 30*time.Second, "the queue to drain", func() bool {
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
		return err == nil && q.Messages == 0
	})
}

func declareKillQueue(t *testing.T, queue string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial("amqp://guest:guest@127.0.0.1:5672/")
	if err != nil {
		t.Fatalf("dial RabbitMQ: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatalf("declare queue: %v", err)
	}
	t.Cleanup(func() {
		if c, err := conn.Channel(); err == nil {
			_, _ = c.QueueDelete(queue, false, false, false)
		}
	})
	return ch
}
