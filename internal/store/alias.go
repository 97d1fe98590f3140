package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/lambda"
)

func aliasKey(name, alias string) string  { return keyPrefix + name + ".alias." + alias }
func allAliasesFilter(name string) string { return keyPrefix + name + ".alias.*" }

// aliasKeyFor maps an alias name to its key; ok is false for anything that
// cannot be a stored alias.
func aliasKeyFor(name, alias string) (string, bool) {
	if !lambda.ValidFunctionName(name) || lambda.ValidateAliasName(alias) != nil {
		return "", false
	}
	return aliasKey(name, alias), true
}

// CreateAlias stores a new alias. ErrExists if the alias exists,
// ErrNotFound if the function does not. Callers check that the versions it
// names exist.
func (s *Store) CreateAlias(ctx context.Context, a *lambda.Alias) error {
	key, ok := aliasKeyFor(a.Function, a.Name)
	if !ok {
		return fmt.Errorf("create alias %s:%s: invalid name", a.Function, a.Name)
	}
	if err := s.eicFunctionExists(ctx, a.Function); err != nil {
		return fmt.Errorf("create alias %s:%s: %w", a.Function, a.Name, err)
	}
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("create alias %s:%s: %w", a.Function, a.Name, err)
	}
	if _, err := s.kv.Create(ctx, key, data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return ErrExists
		}
		return fmt.Errorf("create alias %s:%s: %w", a.Function, a.Name, err)
	}
	return s.undoIfFunctionGone(ctx, a.Function, key)
}

// GetAlias returns one alias, or ErrNotFound.
func (s *Store) GetAlias(ctx context.Context, name, alias string) (*lambda.Alias, error) {
	key, ok := aliasKeyFor(name, alias)
	if !ok {
		return nil, ErrNotFound
	}
	a, _, err := s.getAlias(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get alias %s:%s: %w", name, alias, err)
	}
	return a, nil
}

func (s *Store) getAlias(ctx context.Context, key string) (*lambda.Alias, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	a, err := decodeAlias(e)
	if err != nil {
		return nil, 0, err
	}
	return a, e.Revision(), nil
}

// UpdateAlias applies mutate to an alias under compare-and-set, retrying
// with a fresh copy if another writer won; mutate's error is returned as
// is and nothing is written. ErrNotFound if the alias does not exist.
func (s *Store) UpdateAlias(ctx context.Context, name, alias string, mutate func(a *lambda.Alias) error) (*lambda.Alias, error) {
	key, ok := aliasKeyFor(name, alias)
	if !ok {
		return nil, ErrNotFound
	}
	for attempt := range updateAttempts {
		a, rev, err := s.getAlias(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("update alias %s:%s: %w", name, alias, err)
		}
		if err := mutate(a); err != nil {
			return nil, err
		}
		if a.Function != name || a.Name != alias {
			return nil, fmt.Errorf("update alias %s:%s: mutate changed its identity", name, alias)
		}
		data, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("update alias %s:%s: %w", name, alias, err)
		}
		_, err = s.kv.Update(ctx, key, data, rev)
		if err == nil {
			return a, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("update alias %s:%s: %w", name, alias, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, fmt.Errorf("update alias %s:%s: %w", name, alias, err)
		}
	}
	return nil, fmt.Errorf("update alias %s:%s: %w", name, alias, ErrConflict)
}

// DeleteAlias removes an alias and the settings kept for it. Deleting an
// alias that does not exist is not an error, as in Lambda.
func (s *Store) DeleteAlias(ctx context.Context, name, alias string) error {
	key, ok := aliasKeyFor(name, alias)
	if !ok {
		return nil
	}
	if err := s.kv.Purge(ctx, key); err != nil {
		return fmt.Errorf("delete alias %s:%s: %w", name, alias, err)
	}
	s.purgeQualifierSettings(ctx, name, alias)
	return nil
}

// ListAliases returns a function's aliases sorted by name; ErrNotFound if
// the function does not exist.
func (s *Store) ListAliases(ctx context.Context, name string) ([]*lambda.Alias, error) {
	if err := s.eicFunctionExists(ctx, name); err != nil {
		return nil, fmt.Errorf("list aliases %s: %w", name, err)
	}
	entries, err := s.scan(ctx, allAliasesFilter(name))
	if err != nil {
		return nil, fmt.Errorf("list aliases %s: %w", name, err)
	}
	out := make([]*lambda.Alias, 0, len(entries))
	for _, e := range entries {
		a, err := decodeAlias(e)
		if err != nil {
			return nil, fmt.Errorf("list aliases %s: %w", name, err)
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *lambda.Alias) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func decodeAlias(e jetstream.KeyValueEntry) (*lambda.Alias, error) {
	var a lambda.Alias
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		return nil, fmt.Errorf("decode %s: %w", e.Key(), err)
	}
	return &a, nil
}
