package redisbroker

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// heldSet is the messages a Queue has handed out and not yet released:
// the heartbeat keeps refreshing them. A message retried with a delay
// longer than ClaimIdle stays held until ClaimIdle before its delay ends,
// since Redis cannot set an idle time in the future.
type heldSet struct {
	// mu guards ids. settleMu orders heartbeats against settles: a
	// heartbeat holds it for writing from reading ids until Redis
	// answered, a settle for reading from dropping its id until Redis
	// answered, so a heartbeat never refreshes a message after it was
	// settled.
	mu       sync.Mutex
	ids      map[string]time.Time // id → end of its retry delay (zero: none)
	settleMu sync.RWMutex
}

func newHeldSet() *heldSet {
	return &heldSet{ids: make(map[string]time.Time)}
}

func (h *heldSet) hold(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ids[id] = time.Time{}
}

// holdUntil keeps id held (refreshed) and releases it so that it is
// claimable at until.
func (h *heldSet) holdUntil(id string, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ids[id] = until
}

func (h *heldSet) drop(ids ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		delete(h.ids, id)
	}
}

// due sorts the held messages into those to refresh and those whose
// retry delay ends within claimIdle, which are dropped from the set and
// returned with the idle time that makes them claimable when it ends.
func (h *heldSet) due(now time.Time, claimIdle time.Duration) (refresh []string, release map[string]time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, until := range h.ids {
		if until.IsZero() || until.Sub(now) > claimIdle {
			refresh = append(refresh, id)
			continue
		}
		if release == nil {
			release = make(map[string]time.Duration)
		}
		release[id] = claimIdle - max(until.Sub(now), 0)
		delete(h.ids, id)
	}
	return refresh, release
}

// setIdleScript sets the idle time of the listed entries that this
// consumer still holds (XCLAIM with JUSTID, which leaves the delivery
// count alone) and returns their IDs. Checking the owner in the same
// script keeps a late heartbeat from taking back a message another
// consumer has claimed meanwhile.
//
// KEYS[1] stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] idle ms,
// ARGV[4...] entry IDs.
var setIdleScript = redis.NewScript(`
local kept = {}
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p == 1 and p[1][2] == ARGV[2] then
    local c = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
    if #c == 1 then
      kept[#kept + 1] = ARGV[i]
    end
  end
end
return kept
`)

// setIdleBatch bounds the IDs of one script call.
const setIdleBatch = 256

// setIdle sets the idle time of ids that this consumer holds, and
// returns those it no longer holds (claimed by another consumer after
// missed heartbeats, or deleted from the stream).
func (q *Queue) setIdle(ctx context.Context, idle time.Duration, ids []string) (lost []string, err error) {
	for chunk := range slices.Chunk(ids, setIdleBatch) {
		args := make([]any, 0, 3+len(chunk))
		args = append(args, q.cfg.Group, q.cfg.Consumer, idle.Milliseconds())
		for _, id := range chunk {
			args = append(args, id)
		}
		kept, err := setIdleScript.Run(ctx, q.client, []string{q.cfg.Stream}, args...).StringSlice()
		if err != nil {
			return lost, fmt.Errorf("refresh pending messages of %s: %w", q.cfg.Stream, err)
		}
		for _, id := range chunk {
			if !slices.Contains(kept, id) {
				lost = append(lost, id)
			}
		}
	}
	return lost, nil
}

// heartbeat refreshes the held messages every ClaimIdle/3 until ctx ends.
func (q *Queue) heartbeat(ctx context.Context) {
	defer q.wg.Done()
	tick := time.NewTicker(q.cfg.ClaimIdle / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			q.beat(ctx)
		}
	}
}

// beat is one heartbeat: refresh what is held, release retried messages
// whose delay is about to end.
func (q *Queue) beat(ctx context.Context) {
	q.held.settleMu.Lock()
	defer q.held.settleMu.Unlock()
	refresh, release := q.held.due(time.Now(), q.cfg.ClaimIdle)
	if len(refresh) > 0 {
		lost, err := q.setIdle(ctx, 0, refresh)
		if err != nil && ctx.Err() == nil {
			logger().Warn("heartbeat failed", "stream", q.cfg.Stream, "err", err)
		}
		if len(lost) > 0 {
			q.held.drop(lost...)
			logger().Warn("messages taken by another consumer", "stream", q.cfg.Stream, "ids", lost)
		}
	}
	for id, idle := range release {
		if _, err := q.setIdle(ctx, idle, []string{id}); err != nil && ctx.Err() == nil {
			// It is claimable after ClaimIdle anyway.
			logger().Warn("release retried message", "stream", q.cfg.Stream, "id", id, "err", err)
		}
	}
}
