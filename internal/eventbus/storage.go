package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// errUnchanged tells updateRule to leave the stored rule as it is.
var errUnchanged = errors.New("unchanged")

// getRule reads a rule from the bucket: nil and revision 0 if it does
// not exist.
func (b *Bus) getRule(ctx context.Context, k ruleKey) (*ruleRecord, uint64, error) {
	e, err := b.kv.Get(ctx, ruleKVKey(k))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read rule %s: %w", k.name, err)
	}
	rec := new(ruleRecord)
	if err := json.Unmarshal(e.Value(), rec); err != nil {
		return nil, 0, fmt.Errorf("decode rule %s: %w", k.name, err)
	}
	return rec, e.Revision(), nil
}

// updateRule applies change to the stored rule k with compare-and-set,
// retrying when another writer (on any node) got in first. change gets
// the current record, freshly read and its own to modify (nil if there is
// none), and returns the new one, nil to delete the rule, or errUnchanged
// to leave it; any other error is returned as is. updateRule returns what
// is stored afterwards.
func (b *Bus) updateRule(ctx context.Context, k ruleKey, change func(cur *ruleRecord) (*ruleRecord, error)) (*ruleRecord, error) {
	key := ruleKVKey(k)
	for range casAttempts {
		cur, rev, err := b.getRule(ctx, k)
		if err != nil {
			return nil, err
		}
		next, err := change(cur)
		if errors.Is(err, errUnchanged) {
			return cur, nil
		}
		if err != nil {
			return nil, err
		}
		if next == nil {
			if cur == nil {
				return nil, nil
			}
			err := b.kv.Delete(ctx, key, jetstream.LastRevision(rev))
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("delete rule %s: %w", k.name, err)
			}
			b.cache.forget(key, rev)
			return nil, nil
		}
		value, err := json.Marshal(next)
		if err != nil {
			return nil, fmt.Errorf("encode rule %s: %w", k.name, err)
		}
		var newRev uint64
		if cur == nil {
			newRev, err = b.kv.Create(ctx, key, value)
		} else {
			newRev, err = b.kv.Update(ctx, key, value, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("write rule %s: %w", k.name, err)
		}
		b.cache.apply(key, newRev, false, value)
		return next, nil
	}
	return nil, kindConcurrentModified.Errorf("Rule %s was modified concurrently; try again.", k.name)
}

// busExists reports whether a bus exists: the default bus always does;
// a custom bus is looked up in the bucket, not the cache, so a bus just
// created on another node is found.
func (b *Bus) busExists(ctx context.Context, name string) (bool, error) {
	if name == DefaultBus {
		return true, nil
	}
	_, err := b.kv.Get(ctx, busKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read bus %s: %w", name, err)
	}
	return true, nil
}

// requireBus returns ResourceNotFoundException unless the bus exists.
func (b *Bus) requireBus(ctx context.Context, name string) error {
	ok, err := b.busExists(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return busNotFound(name)
	}
	return nil
}
