package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"gust/internal/brokers"
)

// QueueConfig says which consumer group of which stream a Queue consumes.
type QueueConfig struct {
	// URL is the Redis URL as redis.ParseURL reads it
	// (redis://[user:password@]host:port/db, or rediss:// for TLS). It
	// may hold a password, which never appears in logs or errors.
	URL string
	// Stream is the key of the stream that holds the messages.
	Stream string
	// Group is the consumer group; created at the start of the stream
	// (creating the stream too) when missing.
	Group string
	// Consumer is this consumer's name in the group, unique among the
	// group's live consumers.
	Consumer string
	// ClaimIdle is the visibility timeout: a pending message nobody
	// refreshed for this long may be claimed by any consumer of the
	// group. The Queue refreshes its unsettled messages every
	// ClaimIdle/3. Default 30s.
	ClaimIdle time.Duration
	// MaxReceive is how often a message may be received; 0 means no
	// limit. It applies only with a DeadLetterStream.
	MaxReceive int
	// DeadLetterStream, when set with MaxReceive, is the key of the
	// stream that receives a message retried at its MaxReceive-th receive
	// (or claimed past it): its fields plus "sourceStream" and "sourceId".
	// The message is then acknowledged in Stream.
	DeadLetterStream string
}

// defaultClaimIdle is QueueConfig.ClaimIdle's default.
const defaultClaimIdle = 30 * time.Second

// maxClaimCalls bounds the XAUTOCLAIM calls of one Receive round, so that
// a long pending list of messages other consumers hold is scanned a piece
// at a time (the cursor carries over) rather than all at once.
const maxClaimCalls = 8

// Queue is one consumer of a consumer group: a brokers.Queue with SQS
// semantics. It owns one goroutine, the heartbeat that keeps its
// unsettled messages from being claimed by others, until Close.
type Queue struct {
	client *redis.Client
	cfg    QueueConfig
	block  time.Duration

	// cursor is where the next XAUTOCLAIM resumes; only Receive uses it.
	cursor string

	held   *heldSet
	stop   context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

var _ brokers.Queue = (*Queue)(nil)

// OpenQueue connects to Redis, creates the consumer group if it does not
// exist, and starts the heartbeat.
func OpenQueue(ctx context.Context, cfg QueueConfig) (*Queue, error) {
	cfg, err := withQueueDefaults(cfg)
	if err != nil {
		return nil, err
	}
	client, err := openClient(ctx, cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("open redis queue %s: %w", cfg.Stream, err)
	}
	if err := createGroup(ctx, client, cfg.Stream, cfg.Group); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("open redis queue %s: %w", cfg.Stream, err)
	}
	life, stop := context.WithCancel(context.Background())
	q := &Queue{
		client: client,
		cfg:    cfg,
		block:  min(maxBlock, max(cfg.ClaimIdle/4, 10*time.Millisecond)),
		cursor: "0-0",
		held:   newHeldSet(),
		stop:   stop,
	}
	q.wg.Add(1)
	go q.heartbeat(life)
	return q, nil
}

func withQueueDefaults(cfg QueueConfig) (QueueConfig, error) {
	switch {
	case cfg.Stream == "":
		return cfg, errors.New("redis queue: no stream key")
	case cfg.Group == "":
		return cfg, errors.New("redis queue: no consumer group")
	case cfg.Consumer == "":
		return cfg, errors.New("redis queue: no consumer name")
	case cfg.ClaimIdle < 0:
		return cfg, fmt.Errorf("redis queue: negative claim idle %s", cfg.ClaimIdle)
	case cfg.MaxReceive < 0:
		return cfg, fmt.Errorf("redis queue: negative max receive %d", cfg.MaxReceive)
	}
	if cfg.ClaimIdle == 0 {
		cfg.ClaimIdle = defaultClaimIdle
	}
	// Idle times are kept in milliseconds, and the heartbeat needs a
	// period of at least one.
	cfg.ClaimIdle = max(cfg.ClaimIdle.Truncate(time.Millisecond), 3*time.Millisecond)
	return cfg, nil
}

// createGroup creates group on stream from its first entry; a group that
// exists already is left as it is.
func createGroup(ctx context.Context, client *redis.Client, stream, group string) error {
	err := client.XGroupCreateMkStream(ctx, stream, group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create consumer group %s: %w", group, err)
	}
	return nil
}

// Receive returns up to max messages: first those pending longer than
// ClaimIdle (their consumer died, or they were retried and their delay
// passed), then new ones. It waits until there is at least one or ctx
// ends, and returns an error as soon as Redis does.
func (q *Queue) Receive(ctx context.Context, max int) ([]*brokers.Message, error) {
	limit := countLimit(max)
	for {
		if q.closed.Load() {
			return nil, errClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		msgs, err := q.claimIdle(ctx, limit)
		if err == nil && len(msgs) < limit {
			block := q.block
			if len(msgs) > 0 {
				block = -1 // take what is there without waiting
			}
			var fresh []*brokers.Message
			fresh, err = q.readNew(ctx, limit-len(msgs), block)
			msgs = append(msgs, fresh...)
		}
		if len(msgs) > 0 {
			if err != nil {
				// These are held now; the error shows again on the next call.
				logger().Warn("receive stopped early", "stream", q.cfg.Stream, "err", err)
			}
			return msgs, nil
		}
		if err != nil {
			return nil, ctxErr(ctx, err)
		}
	}
}

// claimIdle takes over messages pending longer than ClaimIdle.
func (q *Queue) claimIdle(ctx context.Context, limit int) ([]*brokers.Message, error) {
	var out []*brokers.Message
	for range maxClaimCalls {
		entries, next, err := q.client.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream:   q.cfg.Stream,
			Group:    q.cfg.Group,
			Consumer: q.cfg.Consumer,
			MinIdle:  q.cfg.ClaimIdle,
			Start:    q.cursor,
			Count:    int64(limit - len(out)),
		}).Result()
		if err != nil {
			return out, fmt.Errorf("claim idle messages of %s: %w", q.cfg.Stream, err)
		}
		q.cursor = next
		msgs, err := q.adoptClaimed(ctx, entries)
		out = append(out, msgs...)
		if err != nil || len(out) >= limit || next == "0-0" {
			return out, err
		}
	}
	return out, nil
}

// adoptClaimed turns claimed entries into messages, reading their delivery
// counts (XAUTOCLAIM counted this delivery). An entry that another
// consumer took in the meantime is dropped; one past MaxReceive is
// dead-lettered instead of delivered.
func (q *Queue) adoptClaimed(ctx context.Context, entries []redis.XMessage) ([]*brokers.Message, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	counts, err := q.deliveryCounts(ctx, entries)
	if err != nil {
		return nil, err
	}
	var out []*brokers.Message
	for _, e := range entries {
		count, ours := counts[e.ID]
		if !ours {
			continue
		}
		m := q.newMessage(e, count)
		if q.pastMaxReceive(count) {
			if err := m.Settle.(*settler).deadLetter(); err != nil {
				logger().Warn("dead-letter message past max receive", "stream", q.cfg.Stream, "id", e.ID, "err", err)
			}
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// deliveryCounts reads the times-delivered of entries this consumer
// holds, by ID.
func (q *Queue) deliveryCounts(ctx context.Context, entries []redis.XMessage) (map[string]int, error) {
	cmds := make([]*redis.XPendingExtCmd, len(entries))
	_, err := q.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, e := range entries {
			cmds[i] = p.XPendingExt(ctx, &redis.XPendingExtArgs{
				Stream: q.cfg.Stream, Group: q.cfg.Group,
				Start: e.ID, End: e.ID, Count: 1, Consumer: q.cfg.Consumer,
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read delivery counts in %s: %w", q.cfg.Stream, err)
	}
	counts := make(map[string]int, len(entries))
	for _, cmd := range cmds {
		for _, p := range cmd.Val() {
			counts[p.ID] = int(p.RetryCount)
		}
	}
	return counts, nil
}

func (q *Queue) pastMaxReceive(count int) bool {
	return q.cfg.MaxReceive > 0 && q.cfg.DeadLetterStream != "" && count > q.cfg.MaxReceive
}

// readNew reads messages never delivered to the group, waiting up to
// block for one (not at all when block is negative).
func (q *Queue) readNew(ctx context.Context, limit int, block time.Duration) ([]*brokers.Message, error) {
	res, err := q.client.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group:    q.cfg.Group,
		Consumer: q.cfg.Consumer,
		Streams:  []string{q.cfg.Stream, ">"},
		Count:    int64(limit),
		Block:    block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read new messages of %s: %w", q.cfg.Stream, err)
	}
	var out []*brokers.Message
	for _, s := range res {
		for _, e := range s.Messages {
			out = append(out, q.newMessage(e, 1))
		}
	}
	return out, nil
}

// newMessage maps an entry this consumer now holds to a message, and
// holds it (heartbeats run) until it is settled.
func (q *Queue) newMessage(e redis.XMessage, receiveCount int) *brokers.Message {
	fields := fieldStrings(e.Values)
	body, attrs := messageParts(fields)
	q.held.hold(e.ID)
	return &brokers.Message{
		ID:           e.ID,
		Body:         body,
		ReceiveCount: receiveCount,
		SentAt:       idTime(e.ID),
		Attributes:   attrs,
		Settle:       &settler{q: q, id: e.ID, fields: fields, receiveCount: receiveCount},
	}
}

// Close stops the heartbeat and disconnects. Unsettled messages stay
// pending and are claimed by other consumers after ClaimIdle. Closing
// twice is a no-op.
func (q *Queue) Close() error {
	if !q.closed.CompareAndSwap(false, true) {
		return nil
	}
	q.stop()
	q.wg.Wait()
	if err := q.client.Close(); err != nil {
		return fmt.Errorf("close redis queue %s: %w", q.cfg.Stream, err)
	}
	return nil
}
