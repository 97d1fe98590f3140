package server_test

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/esm"
	"gust/internal/gusttest"
)

// privateNATS is a NATS server with JetStream that the test owns, so it
// can stop and restart it on the same port and store like a broker a
// user restarts.
type privateNATS struct {
	opts *natsserver.Options
	srv  *natsserver.Server
}

func startPrivateNATS(t *testing.T) *privateNATS {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	p := &privateNATS{opts: &natsserver.Options{Host: "127.0.0.1", Port: port, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true}}
	p.start(t)
	t.Cleanup(func() { p.srv.Shutdown() })
	return p
}

func (p *privateNATS) start(t *testing.T) {
	t.Helper()
	srv, err := natsserver.NewServer(p.opts)
	if err != nil {
		t.Fatalf("start NATS: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS not ready")
	}
	p.srv = srv
}

func (p *privateNATS) url() string { return "nats://127.0.0.1:" + strconv.Itoa(p.opts.Port) }

// publish sends data to subject through a fresh connection.
func (p *privateNATS) publish(t *testing.T, subject, data string) {
	t.Helper()
	nc, err := nats.Connect(p.url())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.Publish(t.Context(), subject, []byte(data)); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// TestESMBrokerRestart stops the broker under a running stream mapping:
// the mapping reports the problem in StateTransitionReason, reconnects
// when the broker is back, says so, and carries on from its checkpoint
// without losing or repeating records, while the server keeps serving.
func TestESMBrokerRestart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("event source mapping reconnects are sandbox-independent; covered by the full run")
	}
	broker := startPrivateNATS(t)
	nc, err := nats.Connect(broker.url())
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "orders", Subjects: []string{"orders.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	nc.Close()

	srv, col, src := startESM(t, "orders", esm.Source{Name: "orders", Broker: esm.BrokerNATS, URL: broker.url(),
		Semantics: esm.SemanticsStream, Stream: "orders"})
	c := srv.Lambda()
	out, err := c.CreateEventSourceMapping(t.Context(), &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("orders"), EventSourceArn: aws.String(src.ARN(srv.ESM().Identity())),
		StartingPosition: types.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(10),
	})
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	for i := range 5 {
		broker.publish(t, "orders.a", fmt.Sprintf("before-%d", i))
	}
	gusttest.WaitFor(t, 30*time.Second, "the records sent before the restart", func() bool { return len(successfulBodies(col)) == 5 })

	broker.srv.Shutdown()
	broker.srv.WaitForShutdown()
	reason := func() string {
		got, err := c.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: out.UUID})
		if err != nil {
			t.Fatalf("GetEventSourceMapping: %v", err)
		}
		return aws.ToString(got.StateTransitionReason)
	}
	gusttest.WaitFor(t, 30*time.Second, "the mapping to report the broker problem", func() bool { return strings.HasPrefix(reason(), "PROBLEM") })
	if _, err := c.ListFunctions(t.Context(), &lambda.ListFunctionsInput{}); err != nil {
		t.Fatalf("the server stopped answering while the broker is down: %v", err)
	}

	broker.start(t)
	for i := range 5 {
		broker.publish(t, "orders.a", fmt.Sprintf("after-%d", i))
	}
	gusttest.WaitFor(t, 60*time.Second, "the records sent after the restart", func() bool { return len(successfulBodies(col)) == 10 })
	gusttest.WaitFor(t, 10*time.Second, "the mapping to report it is healthy again", func() bool { return reason() == "USER_INITIATED" })
	for body, ds := range col.deliveries() {
		if len(ds) != 1 {
			t.Errorf("%s delivered %d times, want once", body, len(ds))
		}
	}
}
