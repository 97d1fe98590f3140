package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/lambda"
)

// Provisioned-concurrency configs live at fn.<name>.pc.<qualifier>, one
// per published version or alias ($LATEST never has one, so no escaping
// is needed). DeleteFunction removes them with the function, the settings
// sweep of DeleteVersion and DeleteAlias removes the qualifier's, and Watch
// reports their changes under the function's name.

func provisionedKey(name, qualifier string) string {
	return keyPrefix + name + ".pc." + qualifier
}

func allProvisionedFilter(name string) string { return keyPrefix + name + ".pc.*" }

// everyProvisionedFilter matches the configs of every function.
func everyProvisionedFilter() string { return keyPrefix + "*.pc.*" }

// provisionedKeyFor validates name and qualifier (a version number or an
// alias name) and gives their key.
func provisionedKeyFor(name, qualifier string) (string, bool) {
	if !lambda.ValidFunctionName(name) || !lambda.ValidQualifier(qualifier) || qualifier == lambda.LatestVersion {
		return "", false
	}
	return provisionedKey(name, qualifier), true
}

// ProvisionedConcurrency is the provisioned-concurrency config of one
// published version or alias. Function and Qualifier come from the key;
// the JSON value holds the rest.
type ProvisionedConcurrency struct {
	Function  string `json:"-"`
	Qualifier string `json:"-"`
	// Requested is ProvisionedConcurrentExecutions: how many environments
	// to keep initialised (at least 1).
	Requested    int       `json:"RequestedProvisionedConcurrentExecutions"`
	LastModified time.Time `json:"LastModified"`
}

// PutProvisionedConcurrency stores cfg, replacing any config of the same
// qualifier; putting the same config twice is harmless. It returns
// ErrNotFound if the function, or the version or alias cfg.Qualifier
// names, does not exist, also when either is deleted while the config is
// written (the config is then taken back). Callers check the limits and
// the alias/version exclusivity themselves.
func (s *Store) PutProvisionedConcurrency(ctx context.Context, cfg ProvisionedConcurrency) error {
	key, ok := provisionedKeyFor(cfg.Function, cfg.Qualifier)
	if !ok || cfg.Requested < 1 {
		return fmt.Errorf("put provisioned concurrency %s:%s: invalid config (%d requested)", cfg.Function, cfg.Qualifier, cfg.Requested)
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("put provisioned concurrency %s:%s: %w", cfg.Function, cfg.Qualifier, err)
	}
	if err := s.qualifierExists(ctx, cfg.Function, cfg.Qualifier); err != nil {
		return fmt.Errorf("put provisioned concurrency %s:%s: %w", cfg.Function, cfg.Qualifier, err)
	}
	if _, err := s.kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("put provisioned concurrency %s:%s: %w", cfg.Function, cfg.Qualifier, err)
	}
	if err := s.undoIfFunctionGone(ctx, cfg.Function, key); err != nil {
		return fmt.Errorf("put provisioned concurrency %s:%s: %w", cfg.Function, cfg.Qualifier, err)
	}
	// DeleteVersion and DeleteAlias sweep the qualifier's settings after
	// removing it: a sweep that ran before the write above missed it.
	if err := s.qualifierExists(ctx, cfg.Function, cfg.Qualifier); errors.Is(err, ErrNotFound) {
		if perr := s.kv.Purge(ctx, key); perr != nil {
			return fmt.Errorf("put provisioned concurrency %s:%s: qualifier deleted meanwhile, and removing the config: %w", cfg.Function, cfg.Qualifier, perr)
		}
		return fmt.Errorf("put provisioned concurrency %s:%s: %w", cfg.Function, cfg.Qualifier, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("put provisioned concurrency %s:%s: %w", cfg.Function, cfg.Qualifier, err)
	}
	return nil
}

// qualifierExists returns nil if the published version or alias exists
// and ErrNotFound if it does not.
func (s *Store) qualifierExists(ctx context.Context, name, qualifier string) error {
	key := aliasKey(name, qualifier)
	if lambda.IsVersion(qualifier) {
		key = versionKey(name, qualifier)
	}
	_, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ErrNotFound
	}
	return err
}

// GetProvisionedConcurrency returns the config of one version or alias,
// or ErrNotFound if there is none (or there cannot be one, such as for
// $LATEST or an invalid name).
func (s *Store) GetProvisionedConcurrency(ctx context.Context, name, qualifier string) (ProvisionedConcurrency, error) {
	key, ok := provisionedKeyFor(name, qualifier)
	if !ok {
		return ProvisionedConcurrency{}, ErrNotFound
	}
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ProvisionedConcurrency{}, fmt.Errorf("get provisioned concurrency %s:%s: %w", name, qualifier, ErrNotFound)
	}
	if err != nil {
		return ProvisionedConcurrency{}, fmt.Errorf("get provisioned concurrency %s:%s: %w", name, qualifier, err)
	}
	cfg, err := decodeProvisioned(e)
	if err != nil {
		return ProvisionedConcurrency{}, fmt.Errorf("get provisioned concurrency %s:%s: %w", name, qualifier, err)
	}
	return cfg, nil
}

// DeleteProvisionedConcurrency removes the config of one version or
// alias. It returns ErrNotFound if there is none, so a second delete of
// the same config fails.
func (s *Store) DeleteProvisionedConcurrency(ctx context.Context, name, qualifier string) error {
	if _, err := s.GetProvisionedConcurrency(ctx, name, qualifier); err != nil {
		return fmt.Errorf("delete provisioned concurrency: %w", err)
	}
	if err := s.kv.Purge(ctx, provisionedKey(name, qualifier)); err != nil {
		return fmt.Errorf("delete provisioned concurrency %s:%s: %w", name, qualifier, err)
	}
	return nil
}

// ListProvisionedConcurrency returns every config of a function, ordered
// by lambda.CompareQualifiers (versions by number, then aliases by name).
// None is an empty slice, not an error, even when the function does not
// exist. A config left behind by a delete racing a put may name a
// qualifier that no longer exists; readers check the qualifier.
func (s *Store) ListProvisionedConcurrency(ctx context.Context, name string) ([]ProvisionedConcurrency, error) {
	if !lambda.ValidFunctionName(name) {
		return []ProvisionedConcurrency{}, nil
	}
	cfgs, err := s.scanProvisioned(ctx, allProvisionedFilter(name))
	if err != nil {
		return nil, fmt.Errorf("list provisioned concurrency %s: %w", name, err)
	}
	return cfgs, nil
}

// ListAllProvisionedConcurrency returns the configs of every function,
// ordered by function name, then as ListProvisionedConcurrency orders
// them. A node applies them all when it starts.
func (s *Store) ListAllProvisionedConcurrency(ctx context.Context) ([]ProvisionedConcurrency, error) {
	cfgs, err := s.scanProvisioned(ctx, everyProvisionedFilter())
	if err != nil {
		return nil, fmt.Errorf("list provisioned concurrency: %w", err)
	}
	return cfgs, nil
}

func (s *Store) scanProvisioned(ctx context.Context, filter string) ([]ProvisionedConcurrency, error) {
	entries, err := s.scan(ctx, filter)
	if err != nil {
		return nil, err
	}
	cfgs := make([]ProvisionedConcurrency, 0, len(entries))
	for _, e := range entries {
		cfg, err := decodeProvisioned(e)
		if err != nil {
			return nil, err
		}
		cfgs = append(cfgs, cfg)
	}
	slices.SortFunc(cfgs, func(a, b ProvisionedConcurrency) int {
		if c := strings.Compare(a.Function, b.Function); c != 0 {
			return c
		}
		return lambda.CompareQualifiers(a.Qualifier, b.Qualifier)
	})
	return cfgs, nil
}

// decodeProvisioned reads a config, taking its function and qualifier
// from the key fn.<name>.pc.<qualifier>.
func decodeProvisioned(e jetstream.KeyValueEntry) (ProvisionedConcurrency, error) {
	var cfg ProvisionedConcurrency
	if err := json.Unmarshal(e.Value(), &cfg); err != nil {
		return ProvisionedConcurrency{}, fmt.Errorf("decode %s: %w", e.Key(), err)
	}
	name := keyFunctionName(e.Key())
	qualifier, ok := strings.CutPrefix(e.Key(), keyPrefix+name+".pc.")
	if !ok || cfg.Requested < 1 {
		return ProvisionedConcurrency{}, fmt.Errorf("decode %s: invalid provisioned concurrency config", e.Key())
	}
	cfg.Function, cfg.Qualifier = name, qualifier
	return cfg, nil
}
