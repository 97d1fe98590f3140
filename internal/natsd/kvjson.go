package natsd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnchanged, returned by a change function of UpdateJSON, leaves the
// stored value as it is.
var ErrUnchanged = errors.New("unchanged")

// casAttempts bounds the compare-and-set retries of one UpdateJSON.
const casAttempts = 16

// GetJSON reads key and decodes it into a new T: nil and revision 0 when
// the key does not exist.
func GetJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string) (*T, uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", key, err)
	}
	v := new(T)
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, e.Revision(), nil
}

// UpdateJSON applies change to the value of key with compare-and-set,
// retrying when another writer (on any node) got in first. change gets
// the current value, freshly read and its own to modify (nil if there is
// none), and returns the new one, nil to delete the key, or ErrUnchanged
// to leave it; any other error is returned as is. UpdateJSON returns what
// is stored afterwards.
func UpdateJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string, change func(cur *T) (*T, error)) (*T, error) {
	for range casAttempts {
		cur, rev, err := GetJSON[T](ctx, kv, key)
		if err != nil {
			return nil, err
		}
		next, err := change(cur)
		if errors.Is(err, ErrUnchanged) {
			return cur, nil
		}
		if err != nil {
			return nil, err
		}
		if next == nil {
			if cur == nil {
				return nil, nil
			}
			err := kv.Delete(ctx, key, jetstream.LastRevision(rev))
			if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("delete %s: %w", key, err)
			}
			return nil, nil
		}
		value, err := json.Marshal(next)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", key, err)
		}
		if cur == nil {
			_, err = kv.Create(ctx, key, value)
		} else {
			_, err = kv.Update(ctx, key, value, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", key, err)
		}
		return next, nil
	}
	return nil, fmt.Errorf("write %s: too many concurrent writers", key)
}
