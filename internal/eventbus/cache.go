package eventbus

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/eventpattern"
	"gust/internal/schedule"
)

// cache is the node's in-memory copy of the events bucket, so that
// PutEvents matches rules and the scheduler finds its rules without a
// round trip. The bucket watch keeps it current; this node's own writes
// are applied at once as well, so a rule is matched by the next PutEvents
// on the node that wrote it. Every change is applied only if its revision
// is newer than the last one seen for its key, so the watch's late copy of
// a change can never undo a newer one. Records in the cache are never
// modified, only replaced.
type cache struct {
	log *slog.Logger

	mu    sync.RWMutex
	revs  map[string]uint64 // last revision seen per key, deletions included
	buses map[string]*busRecord
	rules map[ruleKey]*cachedRule

	// changed is signalled (without blocking) on every rule change, to
	// wake the scheduler.
	changed chan struct{}
}

// cachedRule is a rule with its pattern and schedule compiled.
type cachedRule struct {
	key      ruleKey
	rec      *ruleRecord
	rev      uint64
	pattern  *eventpattern.Pattern // nil without an EventPattern
	schedule *schedule.Expression  // nil without a ScheduleExpression
}

func newCache(log *slog.Logger) *cache {
	return &cache{
		log:     log,
		revs:    make(map[string]uint64),
		buses:   make(map[string]*busRecord),
		rules:   make(map[ruleKey]*cachedRule),
		changed: make(chan struct{}, 1),
	}
}

// watch loads the bucket into the cache and starts the goroutine that
// applies later changes until Close. It returns once the initial values
// are in.
func (b *Bus) watch(ctx context.Context) error {
	w, err := b.kv.WatchAll(b.ctx)
	if err != nil {
		return fmt.Errorf("watch events bucket: %w", err)
	}
	// Initial values come first, then one nil entry.
	for loaded := false; !loaded; {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch events bucket: watcher closed")
			}
			if e == nil {
				loaded = true
				continue
			}
			b.cache.applyEntry(e)
		case <-ctx.Done():
			_ = w.Stop()
			return fmt.Errorf("watch events bucket: %w", ctx.Err())
		}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer func() { _ = w.Stop() }()
		for {
			select {
			case e, ok := <-w.Updates():
				if !ok {
					if b.ctx.Err() == nil {
						b.log.Warn("watch events bucket: watcher closed")
					}
					return
				}
				if e != nil {
					b.cache.applyEntry(e)
				}
			case <-b.ctx.Done():
				return
			}
		}
	}()
	return nil
}

func (c *cache) applyEntry(e jetstream.KeyValueEntry) {
	deleted := e.Operation() != jetstream.KeyValuePut
	c.apply(e.Key(), e.Revision(), deleted, e.Value())
}

// apply records the value (or deletion) of key at revision rev, unless a
// newer revision of key is already known.
func (c *cache) apply(key string, rev uint64, deleted bool, value []byte) {
	kind, names, ok := parseKey(key)
	if !ok {
		return
	}
	var (
		bus  *busRecord
		rule *cachedRule
	)
	if !deleted {
		var err error
		switch kind {
		case "bus":
			bus = new(busRecord)
			err = json.Unmarshal(value, bus)
		case "rule":
			rule, err = compileRule(value)
			if rule != nil {
				rule.rev = rev
			}
		}
		if err != nil {
			c.log.Warn("unreadable events record ignored", "key", key, "err", err)
			return
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if rev <= c.revs[key] {
		return
	}
	c.revs[key] = rev
	switch kind {
	case "bus":
		if deleted {
			delete(c.buses, names[0])
		} else {
			c.buses[names[0]] = bus
		}
	case "rule":
		k := ruleKey{bus: names[0], name: names[1]}
		if deleted {
			delete(c.rules, k)
		} else {
			rule.key = k
			c.rules[k] = rule
		}
		select {
		case c.changed <- struct{}{}:
		default:
		}
	}
}

// forget records that this node deleted key, last seen at revision rev:
// the entry goes now, and the watch's copies of anything up to rev are
// ignored. The watch brings the deletion itself later, which is harmless.
func (c *cache) forget(key string, rev uint64) {
	c.apply(key, rev, true, nil)
}

// compileRule decodes a stored rule and compiles its pattern and schedule,
// which PutRule validated before storing them.
func compileRule(value []byte) (*cachedRule, error) {
	rec := new(ruleRecord)
	if err := json.Unmarshal(value, rec); err != nil {
		return nil, err
	}
	r := &cachedRule{rec: rec}
	var err error
	if rec.EventPattern != "" {
		if r.pattern, err = eventpattern.Compile([]byte(rec.EventPattern)); err != nil {
			return nil, fmt.Errorf("compile pattern of rule %s: %w", rec.Name, err)
		}
	}
	if rec.ScheduleExpression != "" {
		if r.schedule, err = schedule.Parse(rec.ScheduleExpression); err != nil {
			return nil, fmt.Errorf("parse schedule of rule %s: %w", rec.Name, err)
		}
	}
	return r, nil
}

// parseKey splits a bucket key into its kind and unescaped names.
func parseKey(key string) (kind string, names []string, ok bool) {
	parts := strings.Split(key, ".")
	for i := range parts {
		parts[i] = strings.ReplaceAll(parts[i], "=2E", ".")
	}
	switch {
	case len(parts) == 2 && parts[0] == "bus":
		return "bus", parts[1:], true
	case len(parts) == 3 && parts[0] == "rule":
		return "rule", parts[1:], true
	}
	return "", nil, false
}

// bus returns a custom bus; nil if there is none of that name.
func (c *cache) bus(name string) *busRecord {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.buses[name]
}

// busList returns the custom buses, by name.
func (c *cache) busList() []*busRecord {
	c.mu.RLock()
	out := make([]*busRecord, 0, len(c.buses))
	for _, b := range c.buses {
		out = append(out, b)
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b *busRecord) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// rulesOn returns the rules of one bus, by name.
func (c *cache) rulesOn(bus string) []*cachedRule {
	c.mu.RLock()
	var out []*cachedRule
	for k, r := range c.rules {
		if k.bus == bus {
			out = append(out, r)
		}
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b *cachedRule) int { return strings.Compare(a.key.name, b.key.name) })
	return out
}

// scheduled returns every enabled rule with a schedule.
func (c *cache) scheduled() map[ruleKey]*cachedRule {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[ruleKey]*cachedRule)
	for k, r := range c.rules {
		if r.schedule != nil && r.rec.enabled() {
			out[k] = r
		}
	}
	return out
}

// rule returns one rule; nil if it does not exist.
func (c *cache) rule(k ruleKey) *cachedRule {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rules[k]
}
