package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/brokers"
	"gust/internal/natsd"
)

// Lanes and their checkpoints. A record's lane is fixed by its partition
// key and the layout (shard count, ParallelizationFactor); a stream
// mapping's progress is one checkpoint per lane, under
// "c.<uuid>.<shardId>.<lane>" in the bucket. Each lane is the only writer
// of its key, and only ever moves it forward.

// checkpoint is what a lane's key holds.
type checkpoint struct {
	// Seq is the last record the lane is done with (processed, filtered
	// out or sent to the failure path); the lane resumes just past it.
	Seq string `json:"seq"`
	// Shards and Lanes are the layout the lane belonged to: when either
	// changes, partition keys move to other lanes.
	Shards  int       `json:"shards"`
	Lanes   int       `json:"lanes"`
	Updated time.Time `json:"updated"`
}

// laneID names one lane of a mapping.
type laneID struct{ shard, lane int }

// shardOf is the shard of a partition key: FNV-1a modulo the shard count.
func shardOf(key string, shards int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(shards))
}

// laneOf is the lane of a partition key within its shard. It mixes a
// 64-bit FNV-1a hash before taking the modulo: the low bits of FNV-1a of
// any width are the same function of the key, so without mixing a shard's
// keys would all fall in some of its lanes.
func laneOf(key string, lanes int) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return int(x % uint64(lanes))
}

// shardID is Kinesis's name of shard n: "shardId-000000000000".
func shardID(n int) string { return fmt.Sprintf("shardId-%012d", n) }

func checkpointKey(uuid string, id laneID) string {
	return checkpointPrefix + uuid + "." + shardID(id.shard) + "." + strconv.Itoa(id.lane)
}

// checkpoint moves the lane's checkpoint forward to seq. A reader whose
// broker keeps the position itself (brokers.Confirmer) is then told, so
// that it only ever discards what a saved checkpoint covers; failing to
// tell it is logged, as the next checkpoint tells it again and a restart
// before then only reads records that the checkpoint skips.
func (l *lane) checkpoint(ctx context.Context, seq string) error {
	if seq <= l.saved {
		return nil
	}
	cp := checkpoint{Seq: seq, Shards: l.cfg.shards, Lanes: l.cfg.lanes}
	if err := l.s.saveCheckpoint(ctx, l.key, cp); err != nil {
		return err
	}
	l.saved, l.savedAt = seq, time.Now()
	if c, ok := l.reader.(brokers.Confirmer); ok {
		if err := c.Confirm(ctx, seq); err != nil {
			l.log.Warn("confirm stream position to the broker", "sequence", seq, "err", err)
		}
	}
	return nil
}

// saveCheckpoint writes a lane's checkpoint. It outlives ctx by a few
// seconds, so that a batch that was processed as the poller stopped is not
// processed again.
func (s *Service) saveCheckpoint(ctx context.Context, key string, cp checkpoint) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	cp.Updated = time.Now().UTC()
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint %s: %w", key, err)
	}
	if _, err := s.kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("write checkpoint %s: %w", key, err)
	}
	return nil
}

// readCheckpoints returns every checkpoint of a mapping, by key.
func (s *Service) readCheckpoints(ctx context.Context, uuid string) (map[string]*checkpoint, error) {
	keys, err := s.checkpointKeys(ctx, uuid)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*checkpoint, len(keys))
	for _, k := range keys {
		cp, _, err := natsd.GetJSON[checkpoint](ctx, s.kv, k)
		if err != nil {
			return nil, fmt.Errorf("read checkpoints: %w", err)
		}
		if cp != nil && cp.Seq != "" {
			out[k] = cp
		}
	}
	return out, nil
}

// checkpointKeys lists the checkpoint keys of a mapping.
func (s *Service) checkpointKeys(ctx context.Context, uuid string) ([]string, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, checkpointPrefix+uuid+".>")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err) // the listing stopped early
	}
	return keys, nil
}

// laneStarts returns where each lane of the layout resumes: the Seq to
// read past, or "" for a lane without a checkpoint, which starts at the
// mapping's StartingPosition.
//
// Checkpoints written under another layout (the source's shard count or
// the ParallelizationFactor changed) no longer say which keys a lane has
// done, so every lane then resumes from the oldest of them, at most from
// its own: records are delivered again rather than lost. Those positions
// are written under the new layout before the old keys are removed, so a
// crash in between loses nothing either.
func (s *Service) laneStarts(ctx context.Context, uuid string, shards, lanes int) (map[laneID]string, error) {
	all, err := s.readCheckpoints(ctx, uuid)
	if err != nil {
		return nil, err
	}
	current := make(map[string]laneID, shards*lanes)
	for sh := range shards {
		for ln := range lanes {
			id := laneID{sh, ln}
			current[checkpointKey(uuid, id)] = id
		}
	}
	starts := make(map[laneID]string, len(current))
	var staleKeys []string
	oldest := ""
	for k, cp := range all {
		if id, ok := current[k]; ok && cp.Shards == shards && cp.Lanes == lanes {
			starts[id] = cp.Seq
			continue
		}
		staleKeys = append(staleKeys, k)
		if oldest == "" || cp.Seq < oldest {
			oldest = cp.Seq
		}
	}
	if len(staleKeys) == 0 {
		return starts, nil
	}
	for k, id := range current {
		if cur := starts[id]; cur == "" || oldest < cur {
			starts[id] = oldest
		}
		if err := s.saveCheckpoint(ctx, k, checkpoint{Seq: starts[id], Shards: shards, Lanes: lanes}); err != nil {
			return nil, err
		}
	}
	for _, k := range staleKeys {
		if _, kept := current[k]; kept {
			continue // rewritten above under the new layout
		}
		if err := s.kv.Delete(ctx, k); err != nil {
			return nil, fmt.Errorf("delete stale checkpoint %s: %w", k, err)
		}
	}
	s.log.Info("stream layout changed; lanes resume from the oldest checkpoint", "uuid", uuid,
		"shards", shards, "lanes", lanes, "after", oldest)
	return starts, nil
}

// deleteCheckpoints removes the checkpoints of a deleted mapping. A
// failure is logged: the keys are then left behind, harmless, as no
// mapping of that UUID can come back.
func (s *Service) deleteCheckpoints(ctx context.Context, uuid string) {
	keys, err := s.checkpointKeys(ctx, uuid)
	if err != nil {
		s.log.Warn("delete checkpoints", "uuid", uuid, "err", err)
		return
	}
	for _, k := range keys {
		if err := s.kv.Delete(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			s.log.Warn("delete checkpoint", "uuid", uuid, "key", k, "err", err)
		}
	}
}

// seqBefore returns a Seq that orders just before seq: reading past it
// starts at seq. Seqs are fixed-width decimal strings, so this is a
// decrement; ok is false for the first possible Seq ("000…0") or a Seq
// that is not decimal.
func seqBefore(seq string) (string, bool) {
	b := []byte(seq)
	for _, c := range b {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] > '0' {
			b[i]--
			return string(b), true
		}
		b[i] = '9'
	}
	return "", false
}
