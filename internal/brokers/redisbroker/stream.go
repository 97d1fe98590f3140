package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"gust/internal/brokers"
)

// Start positions of StreamConfig.Start.Position.
const (
	trimHorizon = "TRIM_HORIZON"
	latest      = "LATEST"
	atTimestamp = "AT_TIMESTAMP"
)

// StreamConfig says which stream a Stream reads, and from where.
type StreamConfig struct {
	// URL is the Redis URL, as in QueueConfig.
	URL string
	// Stream is the key of the stream.
	Stream string
	// Start is where reading starts: After (a Seq from this package)
	// wins; else Position TRIM_HORIZON (the first entry kept), LATEST
	// (entries added after OpenStream returned) or AT_TIMESTAMP (entries
	// whose ID's millisecond time is at or after Timestamp).
	Start brokers.StartAt
}

// Stream reads one Redis stream in order with XREAD, with no consumer
// group: the caller keeps its own checkpoints (the Seq of the last record
// it processed). It starts no goroutines. Read is for one goroutine at a
// time.
type Stream struct {
	client *redis.Client
	key    string
	// last is the ID after which the next Read starts: the last entry
	// returned, or the start position.
	last   string
	closed atomic.Bool
}

var _ brokers.Stream = (*Stream)(nil)

// OpenStream connects to Redis and fixes the start position as a
// concrete entry ID (LATEST becomes the last ID at this moment, or 0-0
// when the stream is empty or missing).
func OpenStream(ctx context.Context, cfg StreamConfig) (*Stream, error) {
	if cfg.Stream == "" {
		return nil, errors.New("redis stream: no stream key")
	}
	client, err := openClient(ctx, cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("open redis stream %s: %w", cfg.Stream, err)
	}
	last, err := startID(ctx, client, cfg.Stream, cfg.Start)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("open redis stream %s: %w", cfg.Stream, err)
	}
	return &Stream{client: client, key: cfg.Stream, last: last}, nil
}

// startID is the ID just before the first entry to read.
func startID(ctx context.Context, client *redis.Client, key string, start brokers.StartAt) (string, error) {
	if start.After != "" {
		return IDFromSeq(start.After)
	}
	switch start.Position {
	case trimHorizon:
		return "0-0", nil
	case latest:
		return lastID(ctx, client, key)
	case atTimestamp:
		return beforeTime(start.Timestamp.UnixMilli()), nil
	default:
		return "", fmt.Errorf("unknown start position %q", start.Position)
	}
}

// lastID is the ID of the stream's newest entry, 0-0 if it has none.
func lastID(ctx context.Context, client *redis.Client, key string) (string, error) {
	newest, err := client.XRevRangeN(ctx, key, "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("find last entry: %w", err)
	}
	if len(newest) == 0 {
		return "0-0", nil
	}
	return newest[0].ID, nil
}

// beforeTime is the greatest ID before millisecond ms, so that reading
// after it starts with the first entry added at ms or later.
func beforeTime(ms int64) string {
	if ms <= 0 {
		return "0-0"
	}
	return formatID(uint64(ms-1), math.MaxUint64)
}

// Read returns up to max records after the last one returned, in stream
// order, waiting until there is at least one or ctx ends.
func (s *Stream) Read(ctx context.Context, max int) ([]brokers.Record, error) {
	limit := countLimit(max)
	for {
		if s.closed.Load() {
			return nil, errClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, err := s.client.XRead(ctx, &redis.XReadArgs{
			Streams: []string{s.key, s.last},
			Count:   int64(limit),
			Block:   maxBlock,
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, ctxErr(ctx, fmt.Errorf("read stream %s: %w", s.key, err))
		}
		records, err := s.records(res)
		if len(records) > 0 || err != nil {
			return records, err
		}
	}
}

// records maps XREAD's answer and moves the read position past it.
func (s *Stream) records(res []redis.XStream) ([]brokers.Record, error) {
	var out []brokers.Record
	last := s.last
	for _, st := range res {
		for _, e := range st.Messages {
			rec, err := recordFromEntry(e)
			if err != nil {
				return nil, fmt.Errorf("read stream %s: %w", s.key, err)
			}
			out = append(out, rec)
			last = e.ID
		}
	}
	s.last = last
	return out, nil
}

// Close disconnects. Closing twice is a no-op.
func (s *Stream) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("close redis stream %s: %w", s.key, err)
	}
	return nil
}
