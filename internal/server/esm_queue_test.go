package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/esm"
	"gust/internal/gusttest"
)

// queueBroker is one broker's side of the queue tests: a fresh queue
// with a dead-letter target, a way to send, and the dead-letter depth.
type queueBroker struct {
	source      func(name string) esm.Source
	create      func(t *testing.T, name string)
	send        func(t *testing.T, name, body string)
	deadLetters func(t *testing.T, name string) int
}

// queueVisibility is the sources' visibility timeout (ms): short, so the
// failing messages come back quickly, yet long enough that a loaded
// machine running the race detector keeps a message's heartbeats within
// it; shorter, a slow batch is redelivered (at least once, as SQS does
// when processing outlasts the visibility timeout).
const queueVisibility = 1500

var queueBrokers = map[string]queueBroker{
	"jetstream": {
		source: func(name string) esm.Source {
			return esm.Source{Name: name, Broker: esm.BrokerNATS, URL: natsURL, Stream: name, Subject: name + ".in",
				VisibilityTimeoutMillis: queueVisibility, MaxReceiveCount: 3, DeadLetter: name + ".dlq"}
		},
		create: func(t *testing.T, name string) {
			needService(t, "NATS", "127.0.0.1:4222")
			js := natsJS(t)
			if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"},
				Retention: jetstream.WorkQueuePolicy}); err != nil {
				t.Fatalf("create stream: %v", err)
			}
			t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
		},
		send: func(t *testing.T, name, body string) {
			if _, err := natsJS(t).Publish(t.Context(), name+".in", []byte(body)); err != nil {
				t.Fatalf("publish: %v", err)
			}
		},
		deadLetters: func(t *testing.T, name string) int {
			st, err := natsJS(t).Stream(t.Context(), name)
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(name+".dlq"))
			if err != nil {
				t.Fatalf("stream info: %v", err)
			}
			return int(info.State.Subjects[name+".dlq"])
		},
	},
	"redis": {
		source: func(name string) esm.Source {
			return esm.Source{Name: name, Broker: esm.BrokerRedis, URL: redisURL, Stream: name,
				VisibilityTimeoutMillis: queueVisibility, MaxReceiveCount: 3, DeadLetter: name + "-dlq"}
		},
		create: func(t *testing.T, name string) {
			needService(t, "Redis", "127.0.0.1:6379")
			t.Cleanup(func() { _ = redisClient(t).Del(context.Background(), name, name+"-dlq").Err() })
		},
		send: func(t *testing.T, name, body string) {
			if err := redisClient(t).XAdd(t.Context(), &redis.XAddArgs{Stream: name, Values: []string{"body", body}}).Err(); err != nil {
				t.Fatalf("XADD: %v", err)
			}
		},
		deadLetters: func(t *testing.T, name string) int {
			n, err := redisClient(t).XLen(t.Context(), name+"-dlq").Result()
			if err != nil {
				t.Fatalf("XLEN: %v", err)
			}
			return int(n)
		},
	},
}

// TestESMQueues runs the SQS semantics over JetStream work queues and
// Redis Streams consumer groups: partial batch failures are retried with
// rising receive counts and dead-lettered after the source's receive
// limit; the rest are delivered once; a filter drops (and acknowledges)
// what it does not match.
func TestESMQueues(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("event source mapping queues are sandbox-independent; covered by the full run")
	}
	for brokerName, b := range queueBrokers {
		t.Run(brokerName, func(t *testing.T) {
			name := fmt.Sprintf("esmq%s%d", brokerName, time.Now().UnixNano())
			b.create(t, name)
			srv, col, src := startESM(t, "queue-consumer", b.source(name))
			bodies := []string{"ok-1", "fail-1", "ok-2", "skip-1", "ok-3", "fail-2", "skip-2", "ok-4"}
			for _, body := range bodies {
				b.send(t, name, body)
			}
			if _, err := srv.Lambda().CreateEventSourceMapping(t.Context(), &lambda.CreateEventSourceMappingInput{
				FunctionName:          aws.String("queue-consumer"),
				EventSourceArn:        aws.String(src.ARN(srv.ESM().Identity())),
				BatchSize:             aws.Int32(10),
				FunctionResponseTypes: []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures},
				FilterCriteria: &types.FilterCriteria{Filters: []types.Filter{
					{Pattern: aws.String(`{"body": [{"prefix": "ok"}, {"prefix": "fail"}]}`)},
				}},
			}); err != nil {
				t.Fatalf("CreateEventSourceMapping: %v", err)
			}
			gusttest.WaitFor(t, 60*time.Second, "both failing messages dead-lettered", func() bool { return b.deadLetters(t, name) == 2 })
			got := col.deliveries()
			for _, body := range bodies {
				ds := got[body]
				switch body[:2] {
				case "ok":
					if len(ds) != 1 || ds[0].ReceiveCount != 1 {
						t.Errorf("%s deliveries %+v, want one with receive count 1", body, ds)
					}
				case "fa":
					if len(ds) != 3 {
						t.Errorf("%s delivered %d times, want 3 (MaxReceiveCount)", body, len(ds))
					}
					for i, d := range ds {
						if d.ReceiveCount != i+1 {
							t.Errorf("%s delivery %d has receive count %d", body, i+1, d.ReceiveCount)
						}
					}
				case "sk":
					if len(ds) != 0 {
						t.Errorf("%s was delivered %d times; the filter should have dropped it", body, len(ds))
					}
				}
			}
		})
	}
}
