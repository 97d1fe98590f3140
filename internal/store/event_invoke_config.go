package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/lambda"
)

// Event invoke configs live at fn.<name>.eic.<qualifier> (see
// eventInvokeConfigKey), so DeleteFunction removes them with the function
// and Watch reports their changes under the function's name.

func allEventInvokeConfigsFilter(name string) string { return keyPrefix + name + ".eic.*" }

// eventInvokeConfigKeyFor validates name and qualifier and gives their key.
func eventInvokeConfigKeyFor(name, qualifier string) (string, bool) {
	if !lambda.ValidFunctionName(name) || !lambda.ValidQualifier(qualifier) {
		return "", false
	}
	return eventInvokeConfigKey(name, qualifier), true
}

// PutEventInvokeConfig stores cfg as the event invoke config of
// cfg.FunctionName and cfg.Qualifier, replacing any config there. It returns
// ErrNotFound if the function does not exist. Putting the same config twice
// is harmless. A put that races with DeleteFunction of the same function
// fails with ErrNotFound or is removed with the function, unless the
// function is also created again in that instant.
func (s *Store) PutEventInvokeConfig(ctx context.Context, cfg *lambda.EventInvokeConfig) error {
	key, ok := eventInvokeConfigKeyFor(cfg.FunctionName, cfg.Qualifier)
	if !ok {
		return fmt.Errorf("put event invoke config: invalid function %q or qualifier %q", cfg.FunctionName, cfg.Qualifier)
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("put event invoke config %s:%s: %w", cfg.FunctionName, cfg.Qualifier, err)
	}
	if err := s.eicFunctionExists(ctx, cfg.FunctionName); err != nil {
		return fmt.Errorf("put event invoke config %s:%s: %w", cfg.FunctionName, cfg.Qualifier, err)
	}
	if _, err := s.kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("put event invoke config %s:%s: %w", cfg.FunctionName, cfg.Qualifier, err)
	}
	return s.undoIfFunctionGone(ctx, cfg.FunctionName, key)
}

// UpdateEventInvokeConfig applies mutate to the stored config of name and
// qualifier and stores the result if nobody changed it meanwhile, retrying
// with a fresh copy otherwise; so mutate may run several times and must
// depend only on its argument. If mutate returns an error nothing is
// written and the error is returned as is. It returns ErrNotFound if there
// is no config, and ErrConflict if it keeps losing the race. mutate may not
// change FunctionName or Qualifier.
func (s *Store) UpdateEventInvokeConfig(ctx context.Context, name, qualifier string, mutate func(cfg *lambda.EventInvokeConfig) error) (*lambda.EventInvokeConfig, error) {
	key, ok := eventInvokeConfigKeyFor(name, qualifier)
	if !ok {
		return nil, ErrNotFound
	}
	for attempt := range updateAttempts {
		cfg, rev, err := s.getEventInvokeConfig(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("update event invoke config %s:%s: %w", name, qualifier, err)
		}
		if err := mutate(cfg); err != nil {
			return nil, err
		}
		if cfg.FunctionName != name || cfg.Qualifier != qualifier {
			return nil, fmt.Errorf("update event invoke config %s:%s: mutate changed identity to %s:%s", name, qualifier, cfg.FunctionName, cfg.Qualifier)
		}
		data, err := json.Marshal(cfg)
		if err != nil {
			return nil, fmt.Errorf("update event invoke config %s:%s: %w", name, qualifier, err)
		}
		_, err = s.kv.Update(ctx, key, data, rev)
		if err == nil {
			return cfg, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("update event invoke config %s:%s: %w", name, qualifier, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, fmt.Errorf("update event invoke config %s:%s: %w", name, qualifier, err)
		}
	}
	return nil, fmt.Errorf("update event invoke config %s:%s: %w", name, qualifier, ErrConflict)
}

// GetEventInvokeConfig returns the event invoke config of one qualifier
// ("$LATEST", a version or an alias) of a function. It returns ErrNotFound
// if there is none (or there cannot be one, such as for an invalid name).
func (s *Store) GetEventInvokeConfig(ctx context.Context, name, qualifier string) (*lambda.EventInvokeConfig, error) {
	key, ok := eventInvokeConfigKeyFor(name, qualifier)
	if !ok {
		return nil, ErrNotFound
	}
	cfg, _, err := s.getEventInvokeConfig(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get event invoke config %s:%s: %w", name, qualifier, err)
	}
	return cfg, nil
}

// DeleteEventInvokeConfig removes the event invoke config of one qualifier
// of a function. It returns ErrNotFound if there is none, so a second
// delete of the same config fails.
func (s *Store) DeleteEventInvokeConfig(ctx context.Context, name, qualifier string) error {
	key, ok := eventInvokeConfigKeyFor(name, qualifier)
	if !ok {
		return ErrNotFound
	}
	if _, _, err := s.getEventInvokeConfig(ctx, key); err != nil {
		return fmt.Errorf("delete event invoke config %s:%s: %w", name, qualifier, err)
	}
	if err := s.kv.Purge(ctx, key); err != nil {
		return fmt.Errorf("delete event invoke config %s:%s: %w", name, qualifier, err)
	}
	return nil
}

// ListEventInvokeConfigs returns every event invoke config of a function,
// ordered by lambda.CompareQualifiers ($LATEST first, then versions by
// number, then aliases by name). None is an empty slice, not an error, even
// when the function does not exist.
func (s *Store) ListEventInvokeConfigs(ctx context.Context, name string) ([]*lambda.EventInvokeConfig, error) {
	if !lambda.ValidFunctionName(name) {
		return []*lambda.EventInvokeConfig{}, nil
	}
	entries, err := s.scan(ctx, allEventInvokeConfigsFilter(name))
	if err != nil {
		return nil, fmt.Errorf("list event invoke configs %s: %w", name, err)
	}
	cfgs := make([]*lambda.EventInvokeConfig, 0, len(entries))
	for _, e := range entries {
		cfg, err := decodeEventInvokeConfig(e)
		if err != nil {
			return nil, fmt.Errorf("list event invoke configs %s: %w", name, err)
		}
		cfgs = append(cfgs, cfg)
	}
	slices.SortFunc(cfgs, func(a, b *lambda.EventInvokeConfig) int { return lambda.CompareQualifiers(a.Qualifier, b.Qualifier) })
	return cfgs, nil
}

// getEventInvokeConfig reads and decodes one config with its KV revision.
// Absent keys give ErrNotFound.
func (s *Store) getEventInvokeConfig(ctx context.Context, key string) (*lambda.EventInvokeConfig, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	cfg, err := decodeEventInvokeConfig(e)
	if err != nil {
		return nil, 0, err
	}
	return cfg, e.Revision(), nil
}

// eicFunctionExists returns ErrNotFound unless the function's $LATEST exists.
func (s *Store) eicFunctionExists(ctx context.Context, name string) error {
	_, err := s.kv.Get(ctx, latestKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ErrNotFound
	}
	return err
}

// undoIfFunctionGone removes key, just written, if the function was deleted
// while it was being written: DeleteFunction's scan may have missed it.
func (s *Store) undoIfFunctionGone(ctx context.Context, name, key string) error {
	err := s.eicFunctionExists(ctx, name)
	if errors.Is(err, ErrNotFound) {
		if perr := s.kv.Purge(ctx, key); perr != nil {
			return fmt.Errorf("put event invoke config %s: function deleted meanwhile, and removing the config: %w", name, perr)
		}
		return fmt.Errorf("put event invoke config %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("put event invoke config %s: %w", name, err)
	}
	return nil
}

func decodeEventInvokeConfig(e jetstream.KeyValueEntry) (*lambda.EventInvokeConfig, error) {
	var cfg lambda.EventInvokeConfig
	if err := json.Unmarshal(e.Value(), &cfg); err != nil {
		return nil, fmt.Errorf("decode %s: %w", e.Key(), err)
	}
	return &cfg, nil
}
