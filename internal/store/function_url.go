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

// Function URL configs live at fn.<name>.url.<qualifier> ("=LATEST" for the
// function itself, an alias name otherwise), so DeleteFunction removes them
// with the function, DeleteAlias's settings sweep removes an alias's, and
// Watch reports their changes under the function's name.
//
// A request names a URL only by its id, so each config also has an index
// key url.<id> → {function, qualifier}. The index lives outside fn.<name>.>
// and is not removed by DeleteFunction or DeleteAlias: FunctionURLByID
// trusts an index entry only when the function exists and its config at
// that qualifier still carries the id, and purges an entry that fails the
// check. Ids are random and never reused, so a stale entry can never point
// at a new config.

const urlIndexPrefix = "url."

func urlIndexKey(id string) string { return urlIndexPrefix + id }

// functionURLKey holds the URL config of one qualifier ("" = the function).
// '=' cannot occur in an alias name, so no alias can clash.
func functionURLKey(name, qualifier string) string {
	if qualifier == "" {
		qualifier = "=LATEST"
	}
	return keyPrefix + name + ".url." + qualifier
}

func allFunctionURLsFilter(name string) string { return keyPrefix + name + ".url.*" }

// functionURLKeyFor validates name and qualifier and gives their key.
func functionURLKeyFor(name, qualifier string) (string, bool) {
	if !lambda.ValidFunctionName(name) || lambda.ValidateURLQualifier(qualifier) != nil {
		return "", false
	}
	return functionURLKey(name, qualifier), true
}

// urlIndexEntry is the value of url.<id>.
type urlIndexEntry struct {
	Function  string `json:"function"`
	Qualifier string `json:"qualifier,omitempty"`
}

// PutFunctionURL creates the URL config u of u.Function and u.Qualifier.
// It returns ErrExists if that function or alias already has one,
// ErrNotFound if the function does not exist, and ErrConflict in the
// (astronomically unlikely) case that u.URLID is taken. The caller checks
// that an alias named by u.Qualifier exists. A put that races with
// DeleteFunction fails with ErrNotFound or is removed with the function.
func (s *Store) PutFunctionURL(ctx context.Context, u *lambda.FunctionURL) error {
	if err := u.Validate(); err != nil {
		return fmt.Errorf("put function url %s:%s: %w", u.Function, u.Qualifier, err)
	}
	key := functionURLKey(u.Function, u.Qualifier)
	data, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("put function url %s:%s: %w", u.Function, u.Qualifier, err)
	}
	index, err := json.Marshal(urlIndexEntry{Function: u.Function, Qualifier: u.Qualifier})
	if err != nil {
		return fmt.Errorf("put function url %s:%s: %w", u.Function, u.Qualifier, err)
	}
	if err := s.eicFunctionExists(ctx, u.Function); err != nil {
		return fmt.Errorf("put function url %s:%s: %w", u.Function, u.Qualifier, err)
	}
	// The index first: a config is never visible without its index, and
	// an index without its config resolves to nothing.
	if _, err := s.kv.Create(ctx, urlIndexKey(u.URLID), index); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("put function url %s:%s: url id taken: %w", u.Function, u.Qualifier, ErrConflict)
		}
		return fmt.Errorf("put function url %s:%s: %w", u.Function, u.Qualifier, err)
	}
	if _, err := s.kv.Create(ctx, key, data); err != nil {
		_ = s.kv.Purge(ctx, urlIndexKey(u.URLID))
		if errors.Is(err, jetstream.ErrKeyExists) {
			return ErrExists
		}
		return fmt.Errorf("put function url %s:%s: %w", u.Function, u.Qualifier, err)
	}
	// DeleteFunction's scan may have missed a config written while it
	// ran: undo the write if the function is gone now.
	if err := s.eicFunctionExists(ctx, u.Function); err != nil {
		_ = s.kv.Purge(ctx, key)
		_ = s.kv.Purge(ctx, urlIndexKey(u.URLID))
		return fmt.Errorf("put function url %s:%s: %w", u.Function, u.Qualifier, err)
	}
	return nil
}

// UpdateFunctionURL applies mutate to the URL config of name and qualifier
// and stores the result if nobody changed it meanwhile, retrying with a
// fresh copy otherwise; so mutate may run several times and must depend
// only on its argument. If mutate returns an error nothing is written and
// the error is returned as is. It returns ErrNotFound if there is no
// config, and ErrConflict if it keeps losing the race. mutate may not
// change Function, Qualifier or URLID.
func (s *Store) UpdateFunctionURL(ctx context.Context, name, qualifier string, mutate func(u *lambda.FunctionURL) error) (*lambda.FunctionURL, error) {
	key, ok := functionURLKeyFor(name, qualifier)
	if !ok {
		return nil, ErrNotFound
	}
	for attempt := range updateAttempts {
		u, rev, err := s.getFunctionURL(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("update function url %s:%s: %w", name, qualifier, err)
		}
		id := u.URLID
		if err := mutate(u); err != nil {
			return nil, err
		}
		if u.Function != name || u.Qualifier != qualifier || u.URLID != id {
			return nil, fmt.Errorf("update function url %s:%s: mutate changed identity to %s:%s (%s)", name, qualifier, u.Function, u.Qualifier, u.URLID)
		}
		if err := u.Validate(); err != nil {
			return nil, fmt.Errorf("update function url %s:%s: %w", name, qualifier, err)
		}
		data, err := json.Marshal(u)
		if err != nil {
			return nil, fmt.Errorf("update function url %s:%s: %w", name, qualifier, err)
		}
		_, err = s.kv.Update(ctx, key, data, rev)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("update function url %s:%s: %w", name, qualifier, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, fmt.Errorf("update function url %s:%s: %w", name, qualifier, err)
		}
	}
	return nil, fmt.Errorf("update function url %s:%s: %w", name, qualifier, ErrConflict)
}

// GetFunctionURL returns the URL config of a function ("" qualifier) or
// of one of its aliases. It returns ErrNotFound if there is none (or there
// cannot be one, such as for a version qualifier).
func (s *Store) GetFunctionURL(ctx context.Context, name, qualifier string) (*lambda.FunctionURL, error) {
	key, ok := functionURLKeyFor(name, qualifier)
	if !ok {
		return nil, ErrNotFound
	}
	u, _, err := s.getFunctionURL(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get function url %s:%s: %w", name, qualifier, err)
	}
	return u, nil
}

// DeleteFunctionURL removes the URL config of a function or alias and its
// index entry, so its id stops resolving at once. It returns ErrNotFound
// if there is none, so a second delete fails.
func (s *Store) DeleteFunctionURL(ctx context.Context, name, qualifier string) error {
	key, ok := functionURLKeyFor(name, qualifier)
	if !ok {
		return ErrNotFound
	}
	u, _, err := s.getFunctionURL(ctx, key)
	if err != nil {
		return fmt.Errorf("delete function url %s:%s: %w", name, qualifier, err)
	}
	if err := s.kv.Purge(ctx, key); err != nil {
		return fmt.Errorf("delete function url %s:%s: %w", name, qualifier, err)
	}
	// With the config gone the id no longer resolves; dropping the index
	// only saves space, and FunctionURLByID drops it too if this fails.
	if err := s.kv.Purge(ctx, urlIndexKey(u.URLID)); err != nil {
		return fmt.Errorf("delete function url %s:%s: index: %w", name, qualifier, err)
	}
	return nil
}

// ListFunctionURLs returns every URL config of a function, the
// function's own first, then its aliases' by name. None is an empty slice,
// not an error, even when the function does not exist.
func (s *Store) ListFunctionURLs(ctx context.Context, name string) ([]*lambda.FunctionURL, error) {
	if !lambda.ValidFunctionName(name) {
		return []*lambda.FunctionURL{}, nil
	}
	entries, err := s.scan(ctx, allFunctionURLsFilter(name))
	if err != nil {
		return nil, fmt.Errorf("list function urls %s: %w", name, err)
	}
	urls := make([]*lambda.FunctionURL, 0, len(entries))
	for _, e := range entries {
		u, err := decodeFunctionURL(e)
		if err != nil {
			return nil, fmt.Errorf("list function urls %s: %w", name, err)
		}
		urls = append(urls, u)
	}
	slices.SortFunc(urls, func(a, b *lambda.FunctionURL) int { return strings.Compare(a.Qualifier, b.Qualifier) })
	return urls, nil
}

// FunctionURLByID resolves a URL id to its config. It returns ErrNotFound
// for an id that was never issued, whose config was deleted, or whose
// function or alias was deleted; such a stale index entry is removed on
// the way.
func (s *Store) FunctionURLByID(ctx context.Context, id string) (*lambda.FunctionURL, error) {
	if !lambda.ValidURLID(id) {
		return nil, ErrNotFound
	}
	e, err := s.kv.Get(ctx, urlIndexKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("function url %s: %w", id, err)
	}
	var ix urlIndexEntry
	if err := json.Unmarshal(e.Value(), &ix); err != nil {
		return nil, fmt.Errorf("function url %s: decode index: %w", id, err)
	}
	u, err := s.GetFunctionURL(ctx, ix.Function, ix.Qualifier)
	if err == nil && u.URLID == id {
		err = s.eicFunctionExists(ctx, ix.Function)
	} else if err == nil {
		err = ErrNotFound // the config was replaced: this id is no longer its
	}
	if errors.Is(err, ErrNotFound) {
		// Purge only the revision read, in case (impossibly) the id was
		// issued again meanwhile.
		if perr := s.kv.Purge(ctx, urlIndexKey(id), jetstream.LastRevision(e.Revision())); perr != nil {
			s.log.Debug("remove stale function url index", "id", id, "err", perr)
		}
		return nil, fmt.Errorf("function url %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("function url %s: %w", id, err)
	}
	return u, nil
}

// getFunctionURL reads and decodes one config with its KV revision.
// Absent keys give ErrNotFound.
func (s *Store) getFunctionURL(ctx context.Context, key string) (*lambda.FunctionURL, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	u, err := decodeFunctionURL(e)
	if err != nil {
		return nil, 0, err
	}
	return u, e.Revision(), nil
}

func decodeFunctionURL(e jetstream.KeyValueEntry) (*lambda.FunctionURL, error) {
	var u lambda.FunctionURL
	if err := json.Unmarshal(e.Value(), &u); err != nil {
		return nil, fmt.Errorf("decode %s: %w", e.Key(), err)
	}
	return &u, nil
}
