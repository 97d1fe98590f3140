package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/lambda"
)

// allConcurrencyFilter matches every function's reserved-concurrency key.
func allConcurrencyFilter() string { return keyPrefix + "*.concurrency" }

// PutConcurrency sets the reserved concurrency of the named function to n
// (n >= 0), replacing any earlier value; setting the same value again is a
// no-op in effect. It returns ErrNotFound if the function does not exist.
// The value is removed with the function by DeleteFunction.
func (s *Store) PutConcurrency(ctx context.Context, name string, n int) error {
	if n < 0 {
		return fmt.Errorf("put concurrency %s: negative value %d", name, n)
	}
	if err := s.functionExists(ctx, name); err != nil {
		return fmt.Errorf("put concurrency %s: %w", name, err)
	}
	if _, err := s.kv.Put(ctx, concurrencyKey(name), []byte(strconv.Itoa(n))); err != nil {
		return fmt.Errorf("put concurrency %s: %w", name, err)
	}
	// A DeleteFunction that scanned the function's keys before the write
	// above would leave it behind; if $LATEST is gone by now, take it back.
	if err := s.functionExists(ctx, name); errors.Is(err, ErrNotFound) {
		_ = s.kv.Purge(ctx, concurrencyKey(name))
		return fmt.Errorf("put concurrency %s: %w", name, ErrNotFound)
	}
	return nil
}

// GetConcurrency returns the reserved concurrency of the named function;
// ok is false when none is set. It returns ErrNotFound if the function does
// not exist.
func (s *Store) GetConcurrency(ctx context.Context, name string) (n int, ok bool, err error) {
	if err := s.functionExists(ctx, name); err != nil {
		return 0, false, fmt.Errorf("get concurrency %s: %w", name, err)
	}
	e, err := s.kv.Get(ctx, concurrencyKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("get concurrency %s: %w", name, err)
	}
	n, err = decodeConcurrency(e)
	if err != nil {
		return 0, false, fmt.Errorf("get concurrency %s: %w", name, err)
	}
	return n, true, nil
}

// DeleteConcurrency removes the reserved concurrency of the named function.
// It is idempotent: a function without one is left as it is. It returns
// ErrNotFound if the function does not exist.
func (s *Store) DeleteConcurrency(ctx context.Context, name string) error {
	if err := s.functionExists(ctx, name); err != nil {
		return fmt.Errorf("delete concurrency %s: %w", name, err)
	}
	if err := s.kv.Purge(ctx, concurrencyKey(name)); err != nil {
		return fmt.Errorf("delete concurrency %s: %w", name, err)
	}
	return nil
}

// ListConcurrency returns the reserved concurrency of every function that
// has one, by function name. None is an empty map, not an error. A value
// whose function no longer exists (left by a delete racing a put) is not
// reported.
func (s *Store) ListConcurrency(ctx context.Context) (map[string]int, error) {
	entries, err := s.scan(ctx, allConcurrencyFilter())
	if err != nil {
		return nil, fmt.Errorf("list concurrency: %w", err)
	}
	out := make(map[string]int, len(entries))
	for _, e := range entries {
		n, err := decodeConcurrency(e)
		if err != nil {
			return nil, fmt.Errorf("list concurrency: %w", err)
		}
		name := keyFunctionName(e.Key())
		switch err := s.functionExists(ctx, name); {
		case errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return nil, fmt.Errorf("list concurrency: %w", err)
		}
		out[name] = n
	}
	return out, nil
}

// functionExists returns nil if the function's $LATEST is stored and
// ErrNotFound if it is not (or the name is invalid).
func (s *Store) functionExists(ctx context.Context, name string) error {
	if !lambda.ValidFunctionName(name) {
		return ErrNotFound
	}
	_, err := s.kv.Get(ctx, latestKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ErrNotFound
	}
	return err
}

func decodeConcurrency(e jetstream.KeyValueEntry) (int, error) {
	n, err := strconv.Atoi(string(e.Value()))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("decode %s: invalid reserved concurrency %q", e.Key(), e.Value())
	}
	return n, nil
}
