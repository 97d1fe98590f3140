package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/esm"
	"gust/internal/gusttest"
)

const (
	natsURL  = "nats://127.0.0.1:4222"
	redisURL = "redis://127.0.0.1:6379/0"
)

// streamBroker is one broker's side of the stream tests: a fresh stream
// and a way to append a record with a partition key.
type streamBroker struct {
	source  func(name string) esm.Source
	create  func(t *testing.T, name string)
	publish func(t *testing.T, name, key, data string)
}

var streamBrokers = map[string]streamBroker{
	"jetstream": {
		source: func(name string) esm.Source {
			return esm.Source{Name: name, Broker: esm.BrokerNATS, URL: natsURL, Semantics: esm.SemanticsStream, Stream: name, Shards: 4}
		},
		create: func(t *testing.T, name string) {
			needService(t, "NATS", "127.0.0.1:4222")
			js := natsJS(t)
			if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}}); err != nil {
				t.Fatalf("create stream: %v", err)
			}
			t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
		},
		publish: func(t *testing.T, name, key, data string) {
			if _, err := natsJS(t).Publish(t.Context(), name+"."+key, []byte(data)); err != nil {
				t.Fatalf("publish: %v", err)
			}
		},
	},
	"redis": {
		source: func(name string) esm.Source {
			return esm.Source{Name: name, Broker: esm.BrokerRedis, URL: redisURL, Semantics: esm.SemanticsStream, Stream: name, Shards: 4}
		},
		create: func(t *testing.T, name string) {
			needService(t, "Redis", "127.0.0.1:6379")
			t.Cleanup(func() { _ = redisClient(t).Del(context.Background(), name).Err() })
		},
		publish: func(t *testing.T, name, key, data string) {
			if err := redisClient(t).XAdd(t.Context(), &redis.XAddArgs{Stream: name,
				Values: []string{"partitionKey", key, "data", data}}).Err(); err != nil {
				t.Fatalf("XADD: %v", err)
			}
		},
	},
}

var (
	testNATS  *nats.Conn
	testRedis *redis.Client
)

func natsJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	if testNATS == nil {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			t.Fatalf("connect NATS: %v", err)
		}
		testNATS = nc
	}
	js, err := jetstream.New(testNATS)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	if testRedis == nil {
		opt, err := redis.ParseURL(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		testRedis = redis.NewClient(opt)
	}
	return testRedis
}

// TestESMStreams is the stream case, for JetStream and Redis
// Streams: 4 shards, 1,000 records over 20 keys, ParallelizationFactor 2.
// Each key's records arrive in order within and across invocations and
// none is skipped across a restart of Gust; one poison record is isolated
// by bisection and sent to the on-failure queue while its shard goes on.
func TestESMStreams(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("event source mapping streams are sandbox-independent; covered by the full run")
	}
	for brokerName, b := range streamBrokers {
		t.Run(brokerName, func(t *testing.T) {
			name := fmt.Sprintf("esmstream%s%d", brokerName, time.Now().UnixNano())
			b.create(t, name)
			srv, col, src := startESM(t, "stream-consumer", b.source(name))
			id := srv.ESM().Identity()
			failures := "esm-failed-" + brokerName
			const keys, perKey, poisonKey, poisonIdx = 20, 50, 3, 20
			publish := func(from, to int) {
				for i := from; i < to; i++ {
					k, n := i%keys, i/keys
					data := fmt.Sprintf("k%02d:%03d", k, n)
					if k == poisonKey && n == poisonIdx {
						data = "poison"
					}
					b.publish(t, name, fmt.Sprintf("k%02d", k), data)
				}
			}
			publish(0, keys*perKey/2)
			out, err := srv.Lambda().CreateEventSourceMapping(t.Context(), &lambda.CreateEventSourceMappingInput{
				FunctionName:               aws.String("stream-consumer"),
				EventSourceArn:             aws.String(src.ARN(id)),
				StartingPosition:           types.EventSourcePositionTrimHorizon,
				BatchSize:                  aws.Int32(25),
				ParallelizationFactor:      aws.Int32(2),
				BisectBatchOnFunctionError: aws.Bool(true),
				MaximumRetryAttempts:       aws.Int32(0),
				DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{
					Destination: aws.String("arn:aws:sqs:" + id.Region + ":" + id.Account + ":" + failures)}},
			})
			if err != nil {
				t.Fatalf("CreateEventSourceMapping: %v", err)
			}
			delivered := func() int {
				n := 0
				for _, rep := range col.snapshot() {
					if !rep.Failed {
						n += len(rep.Records)
					}
				}
				return n
			}
			gusttest.WaitFor(t, 60*time.Second, "half the records before the restart", func() bool { return delivered() >= keys*perKey/4 })
			srv = srv.Restart(t)
			publish(keys*perKey/2, keys*perKey)
			want := keys*perKey - 1
			gusttest.WaitFor(t, 90*time.Second, "every record but the poison one", func() bool {
				return len(successfulBodies(col)) >= want
			})
			checkKeyOrder(t, col, keys, perKey, poisonKey, poisonIdx)
			gusttest.WaitFor(t, 30*time.Second, "the poison record's on-failure record", func() bool {
				dl, err := srv.Async().DeadLetters(t.Context(), failures, 10)
				return err == nil && len(dl) > 0
			})
			dl, _ := srv.Async().DeadLetters(t.Context(), failures, 10)
			if len(dl) != 1 {
				t.Fatalf("%d on-failure records, want 1", len(dl))
			}
			var rec struct {
				RequestContext   struct{ Condition string } `json:"requestContext"`
				KinesisBatchInfo struct {
					ShardID             string `json:"shardId"`
					StartSequenceNumber string `json:"startSequenceNumber"`
					EndSequenceNumber   string `json:"endSequenceNumber"`
					BatchSize           int    `json:"batchSize"`
					StreamArn           string `json:"streamArn"`
				}
			}
			if err := json.Unmarshal(dl[0].Body, &rec); err != nil {
				t.Fatalf("on-failure record %s: %v", dl[0].Body, err)
			}
			info := rec.KinesisBatchInfo
			if info.BatchSize != 1 || info.StartSequenceNumber != info.EndSequenceNumber || info.StreamArn != src.ARN(id) {
				t.Errorf("on-failure record %s, want one record of %s isolated by bisection", dl[0].Body, src.ARN(id))
			}
			if seq, ok := poisonSequence(col); !ok || seq != info.StartSequenceNumber {
				t.Errorf("on-failure record names sequence %s, the poison record is %s", info.StartSequenceNumber, seq)
			}
			if _, err := srv.Lambda().DeleteEventSourceMapping(t.Context(), &lambda.DeleteEventSourceMappingInput{UUID: out.UUID}); err != nil {
				t.Fatalf("DeleteEventSourceMapping: %v", err)
			}
		})
	}
}

// successfulBodies returns the bodies delivered in invocations that
// succeeded.
func successfulBodies(col *esmCollector) map[string]bool {
	out := map[string]bool{}
	for _, rep := range col.snapshot() {
		if rep.Failed {
			continue
		}
		for _, r := range rep.Records {
			out[r.Body] = true
		}
	}
	return out
}

// poisonSequence is the sequence number the poison record arrived with.
func poisonSequence(col *esmCollector) (string, bool) {
	for _, rep := range col.snapshot() {
		for _, r := range rep.Records {
			if r.Body == "poison" {
				return r.ID, true
			}
		}
	}
	return "", false
}

// checkKeyOrder checks, over the successful invocations in the order
// they reported, that each key's records came in order: every record new
// to the key is the next one (no gap, no reordering), and a record seen
// before may only come again as part of a replay; each key stayed on one
// shard.
func checkKeyOrder(t *testing.T, col *esmCollector, keys, perKey, poisonKey, poisonIdx int) {
	t.Helper()
	next := make([]int, keys)
	shardOf := map[string]string{}
	for _, rep := range col.snapshot() {
		if rep.Failed {
			continue
		}
		for _, r := range rep.Records {
			if r.Body == "poison" {
				t.Errorf("the poison record was part of a successful invocation")
				continue
			}
			ks, ns, ok := strings.Cut(r.Body, ":")
			k, _ := strconv.Atoi(strings.TrimPrefix(ks, "k"))
			n, _ := strconv.Atoi(ns)
			if !ok || k >= keys {
				t.Fatalf("unexpected record %q", r.Body)
			}
			if prev, seen := shardOf[r.Key]; seen && prev != r.Shard {
				t.Errorf("key %s moved from %s to %s", r.Key, prev, r.Shard)
			}
			shardOf[r.Key] = r.Shard
			if k == poisonKey && next[k] == poisonIdx {
				next[k]++ // the poison record went to the failure path
			}
			switch {
			case n == next[k]:
				next[k]++
			case n > next[k]:
				t.Fatalf("key %s: record %d arrived before record %d (a gap or reordering)", ks, n, next[k])
			}
		}
	}
	for k, n := range next {
		if n != perKey {
			t.Errorf("key k%02d: %d of %d records delivered in order", k, n, perKey)
		}
	}
}
