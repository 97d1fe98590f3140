package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/lambda"
)

// updateAttempts bounds UpdateFunction's compare-and-set retries. It is
// generous: N updaters racing on one function need up to N attempts each.
const updateAttempts = 32

// Key layout; see the package comment.
const keyPrefix = "fn."

func latestKey(name string) string      { return keyPrefix + name + ".latest" }
func versionKey(name, v string) string  { return keyPrefix + name + ".v." + v }
func functionFilter(name string) string { return keyPrefix + name + ".>" }
func allLatestFilter() string           { return keyPrefix + "*.latest" }
func allFunctionsFilter() string        { return keyPrefix + ">" }

// nextVersionKey holds the next version number to publish, so a number is
// never reused while the function exists, even after its version is
// deleted (see versionCounter in version.go).
// DeleteFunction removes it with the function, so a re-created function
// numbers from 1 again.
func nextVersionKey(name string) string { return keyPrefix + name + ".next" }

// Per-function settings live beside the versions, so DeleteFunction's scan
// of fn.<name>.> removes them with the function and Watch reports their
// changes under the function's name.
func concurrencyKey(name string) string { return keyPrefix + name + ".concurrency" }

// eventInvokeConfigKey holds the event invoke config of one qualifier.
// '$' is not a valid key character, so "$LATEST" is stored as "=LATEST";
// '=' cannot occur in a version or alias name, so no alias can clash.
func eventInvokeConfigKey(name, qualifier string) string {
	if qualifier == lambda.LatestVersion {
		qualifier = "=LATEST"
	}
	return keyPrefix + name + ".eic." + qualifier
}

// isFunctionValueKey reports whether key holds a lambda.Function (as opposed
// to the version counter or a per-function setting).
func isFunctionValueKey(key string) bool {
	name := keyFunctionName(key)
	return key == latestKey(name) || strings.HasPrefix(key, keyPrefix+name+".v.")
}

// keyFunctionName extracts <name> from any fn.<name>.… key.
func keyFunctionName(key string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(key, keyPrefix), ".")
	return name
}

// versionKeyFor maps a version ("$LATEST" or "1", "2", …) to its key; ok is
// false for anything that cannot name a stored version.
func versionKeyFor(name, version string) (key string, ok bool) {
	if !lambda.ValidFunctionName(name) || !lambda.IsVersion(version) {
		return "", false
	}
	if version == lambda.LatestVersion {
		return latestKey(name), true
	}
	return versionKey(name, version), true
}

// CreateFunction stores fn as the $LATEST version of a new function. It
// returns ErrExists if a function of that name exists. fn.Version must be
// "$LATEST" and fn.Name a valid function name.
func (s *Store) CreateFunction(ctx context.Context, fn *lambda.Function) error {
	if !lambda.ValidFunctionName(fn.Name) {
		return fmt.Errorf("create function: invalid name %q", fn.Name)
	}
	if fn.Version != lambda.LatestVersion {
		return fmt.Errorf("create function %s: version %q, want %q", fn.Name, fn.Version, lambda.LatestVersion)
	}
	data, err := json.Marshal(fn)
	if err != nil {
		return fmt.Errorf("create function %s: %w", fn.Name, err)
	}
	if _, err := s.kv.Create(ctx, latestKey(fn.Name), data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return ErrExists
		}
		return fmt.Errorf("create function %s: %w", fn.Name, err)
	}
	return nil
}

// GetFunction returns one version of a function: "$LATEST" or a published
// version number. It returns ErrNotFound if the function or the version does
// not exist (or cannot exist, such as an invalid name).
func (s *Store) GetFunction(ctx context.Context, name, version string) (*lambda.Function, error) {
	key, ok := versionKeyFor(name, version)
	if !ok {
		return nil, ErrNotFound
	}
	fn, _, err := s.get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get function %s:%s: %w", name, version, err)
	}
	return fn, nil
}

// get reads and decodes one function version with its KV revision.
// Absent keys give ErrNotFound.
func (s *Store) get(ctx context.Context, key string) (*lambda.Function, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	fn, err := decode(e)
	if err != nil {
		return nil, 0, err
	}
	return fn, e.Revision(), nil
}

// UpdateFunction applies mutate to $LATEST and stores the result if nobody
// else changed $LATEST meanwhile, retrying with a fresh copy otherwise; so
// mutate may run several times and must depend only on its argument. If
// mutate returns an error nothing is written and the error is returned as
// is. It returns ErrNotFound if the function does not exist and ErrConflict
// if it keeps losing the race. mutate may not change Name or Version. When
// the update changes CodeSha256 and the old code is no longer referenced,
// the old code object is deleted.
func (s *Store) UpdateFunction(ctx context.Context, name string, mutate func(fn *lambda.Function) error) (*lambda.Function, error) {
	if !lambda.ValidFunctionName(name) {
		return nil, ErrNotFound
	}
	key := latestKey(name)
	for attempt := range updateAttempts {
		fn, rev, err := s.get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("update function %s: %w", name, err)
		}
		oldSha := fn.CodeSha256
		if err := mutate(fn); err != nil {
			return nil, err
		}
		if fn.Name != name || fn.Version != lambda.LatestVersion {
			return nil, fmt.Errorf("update function %s: mutate changed identity to %s:%s", name, fn.Name, fn.Version)
		}
		data, err := json.Marshal(fn)
		if err != nil {
			return nil, fmt.Errorf("update function %s: %w", name, err)
		}
		_, err = s.kv.Update(ctx, key, data, rev)
		if err == nil {
			if oldSha != "" && oldSha != fn.CodeSha256 {
				s.collectCode(ctx, oldSha)
			}
			return fn, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("update function %s: %w", name, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, fmt.Errorf("update function %s: %w", name, err)
		}
	}
	return nil, fmt.Errorf("update function %s: %w", name, ErrConflict)
}

// backoff sleeps a random, growing slice of time so that racing updaters
// spread out, or returns early with ctx's error.
func backoff(ctx context.Context, attempt int) error {
	ceiling := min(time.Millisecond<<min(attempt, 6), 50*time.Millisecond)
	t := time.NewTimer(rand.N(ceiling) + 1)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ListFunctions returns the $LATEST version of every function, sorted by
// name. No functions is an empty slice, not an error.
func (s *Store) ListFunctions(ctx context.Context) ([]*lambda.Function, error) {
	entries, err := s.scan(ctx, allLatestFilter())
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	fns := make([]*lambda.Function, 0, len(entries))
	for _, e := range entries {
		fn, err := decode(e)
		if err != nil {
			return nil, fmt.Errorf("list functions: %w", err)
		}
		fns = append(fns, fn)
	}
	slices.SortFunc(fns, func(a, b *lambda.Function) int { return strings.Compare(a.Name, b.Name) })
	return fns, nil
}

// DeleteFunction removes the function with all its versions and its version
// counter, then deletes code objects no other function version refers to.
// It returns ErrNotFound if the function does not exist. $LATEST goes last,
// so a delete that fails midway can be retried.
func (s *Store) DeleteFunction(ctx context.Context, name string) error {
	if !lambda.ValidFunctionName(name) {
		return ErrNotFound
	}
	if _, _, err := s.get(ctx, latestKey(name)); err != nil {
		return fmt.Errorf("delete function %s: %w", name, err)
	}
	entries, err := s.scan(ctx, functionFilter(name))
	if err != nil {
		return fmt.Errorf("delete function %s: %w", name, err)
	}
	var shas []string
	for _, e := range entries {
		if isFunctionValueKey(e.Key()) {
			if fn, err := decode(e); err == nil && fn.CodeSha256 != "" {
				shas = append(shas, fn.CodeSha256)
			}
		}
		if e.Key() == latestKey(name) {
			continue
		}
		if err := s.kv.Purge(ctx, e.Key()); err != nil {
			return fmt.Errorf("delete function %s: %w", name, err)
		}
	}
	if err := s.kv.Purge(ctx, latestKey(name)); err != nil {
		return fmt.Errorf("delete function %s: %w", name, err)
	}
	s.collectCode(ctx, shas...)
	return nil
}

// scan returns the current entries of every key matching filter, skipping
// deleted keys. It reads them all in one ordered-consumer pass.
func (s *Store) scan(ctx context.Context, filter string) ([]jetstream.KeyValueEntry, error) {
	// Not ctx itself: a context that ends while the client sets the watch
	// up leaves a watcher it never closes; ctx is honoured below instead.
	w, err := s.kv.Watch(context.WithoutCancel(ctx), filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer stopWatcher(w)
	var out []jetstream.KeyValueEntry
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watcher closed")
			}
			if e == nil { // all current values delivered
				return out, nil
			}
			out = append(out, e)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// stopWatcher unsubscribes w and drains its channel, which the client closes
// once its delivery goroutine has finished, so no send is left blocked. The
// drain is bounded: the client closes the channel from the subscription's
// closed handler, which it installs only after subscribing, so a watcher
// whose context ended during its creation is never closed at all.
func stopWatcher(w jetstream.KeyWatcher) {
	_ = w.Stop()
	limit := time.NewTimer(time.Second)
	defer limit.Stop()
	for {
		select {
		case _, ok := <-w.Updates():
			if !ok {
				return
			}
		case <-limit.C:
			return
		}
	}
}

func decode(e jetstream.KeyValueEntry) (*lambda.Function, error) {
	var fn lambda.Function
	if err := json.Unmarshal(e.Value(), &fn); err != nil {
		return nil, fmt.Errorf("decode %s: %w", e.Key(), err)
	}
	return &fn, nil
}
