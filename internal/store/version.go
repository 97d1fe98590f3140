package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/lambda"
)

// versionCounter is the value of fn.<name>.next: the number the next
// published version gets, and which $LATEST revision the last published
// version was taken from, so publishing an unchanged $LATEST returns that
// version instead of a new one.
type versionCounter struct {
	Next int    `json:"next"`
	Last string `json:"last,omitempty"` // last published version
	From string `json:"from,omitempty"` // $LATEST RevisionID it was published from
}

// PublishVersion freezes $LATEST as a new numbered version and returns it,
// or returns the last published version if $LATEST has not changed since
// (created is then false). check runs on $LATEST before anything is
// written (RevisionId and CodeSha256 preconditions); its error is returned
// as is. description, when not empty, replaces $LATEST's description on
// the version. Numbers are never reused while the function exists.
func (s *Store) PublishVersion(ctx context.Context, name, description string, check func(latest *lambda.Function) error) (fn *lambda.Function, created bool, err error) {
	if !lambda.ValidFunctionName(name) {
		return nil, false, ErrNotFound
	}
	for attempt := range updateAttempts {
		latest, _, err := s.get(ctx, latestKey(name))
		if err != nil {
			return nil, false, fmt.Errorf("publish version %s: %w", name, err)
		}
		if err := check(latest); err != nil {
			return nil, false, err
		}
		counter, counterRev, err := s.versionCounter(ctx, name)
		if err != nil {
			return nil, false, fmt.Errorf("publish version %s: %w", name, err)
		}
		if counter.From == latest.RevisionID && counter.Last != "" {
			existing, _, err := s.get(ctx, versionKey(name, counter.Last))
			if err == nil {
				return existing, false, nil
			}
			if !errors.Is(err, ErrNotFound) {
				return nil, false, fmt.Errorf("publish version %s: %w", name, err)
			}
			// The last version was deleted: publish a new one.
		}
		v := *latest
		v.Version = strconv.Itoa(counter.Next)
		v.RevisionID = uuid.NewString()
		v.Tags = nil // tags belong to the function, not its versions
		if description != "" {
			v.Description = description
		}
		data, err := json.Marshal(&v)
		if err != nil {
			return nil, false, fmt.Errorf("publish version %s: %w", name, err)
		}
		// The version key first: whoever creates key n owns number n, so
		// two publishers can never both take it. Then the counter moves
		// past n; losing that race means someone else published, so undo
		// and look again.
		if _, err := s.kv.Create(ctx, versionKey(name, v.Version), data); err != nil {
			if !errors.Is(err, jetstream.ErrKeyExists) {
				return nil, false, fmt.Errorf("publish version %s: %w", name, err)
			}
		} else {
			next, _ := json.Marshal(versionCounter{Next: counter.Next + 1, Last: v.Version, From: latest.RevisionID})
			if err = s.putCounter(ctx, name, next, counterRev); err == nil {
				if err := s.undoIfFunctionGone(ctx, name, versionKey(name, v.Version)); err != nil {
					return nil, false, fmt.Errorf("publish version %s: %w", name, err)
				}
				return &v, true, nil
			}
			_ = s.kv.Purge(ctx, versionKey(name, v.Version))
			if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				return nil, false, fmt.Errorf("publish version %s: %w", name, err)
			}
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, false, fmt.Errorf("publish version %s: %w", name, err)
		}
	}
	return nil, false, fmt.Errorf("publish version %s: %w", name, ErrConflict)
}

// versionCounter reads fn.<name>.next; absent means nothing was published
// yet (revision 0 makes the first write a create).
func (s *Store) versionCounter(ctx context.Context, name string) (versionCounter, uint64, error) {
	e, err := s.kv.Get(ctx, nextVersionKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return versionCounter{Next: 1}, 0, nil
	}
	if err != nil {
		return versionCounter{}, 0, err
	}
	var c versionCounter
	if err := json.Unmarshal(e.Value(), &c); err != nil || c.Next < 1 {
		return versionCounter{}, 0, fmt.Errorf("decode %s: invalid version counter", e.Key())
	}
	return c, e.Revision(), nil
}

func (s *Store) putCounter(ctx context.Context, name string, data []byte, rev uint64) error {
	if rev == 0 {
		_, err := s.kv.Create(ctx, nextVersionKey(name), data)
		return err
	}
	_, err := s.kv.Update(ctx, nextVersionKey(name), data, rev)
	return err
}

// ListVersions returns $LATEST followed by every published version in
// numeric order. ErrNotFound if the function does not exist.
func (s *Store) ListVersions(ctx context.Context, name string) ([]*lambda.Function, error) {
	if !lambda.ValidFunctionName(name) {
		return nil, ErrNotFound
	}
	entries, err := s.scan(ctx, keyPrefix+name+".>")
	if err != nil {
		return nil, fmt.Errorf("list versions %s: %w", name, err)
	}
	var latest *lambda.Function
	var versions []*lambda.Function
	for _, e := range entries {
		if !isFunctionValueKey(e.Key()) {
			continue
		}
		fn, err := decode(e)
		if err != nil {
			return nil, fmt.Errorf("list versions %s: %w", name, err)
		}
		if e.Key() == latestKey(name) {
			latest = fn
		} else {
			versions = append(versions, fn)
		}
	}
	if latest == nil {
		return nil, fmt.Errorf("list versions %s: %w", name, ErrNotFound)
	}
	slices.SortFunc(versions, func(a, b *lambda.Function) int {
		x, _ := strconv.Atoi(a.Version)
		y, _ := strconv.Atoi(b.Version)
		return x - y
	})
	return append([]*lambda.Function{latest}, versions...), nil
}

// VersionInUseError is DeleteVersion's refusal while aliases route to the
// version.
type VersionInUseError struct{ Aliases []string }

func (e *VersionInUseError) Error() string {
	return "store: version referenced by aliases " + strings.Join(e.Aliases, ", ")
}

// DeleteVersion removes one published version and the settings kept for
// it (event invoke config, permissions, provisioned concurrency). It
// refuses with a *VersionInUseError while an alias routes to
// the version, and returns ErrNotFound for an unknown version.
func (s *Store) DeleteVersion(ctx context.Context, name, version string) error {
	if !lambda.ValidFunctionName(name) || version == lambda.LatestVersion || !lambda.IsVersion(version) {
		return ErrNotFound
	}
	fn, _, err := s.get(ctx, versionKey(name, version))
	if err != nil {
		return fmt.Errorf("delete version %s:%s: %w", name, version, err)
	}
	aliases, err := s.ListAliases(ctx, name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("delete version %s:%s: %w", name, version, err)
	}
	var users []string
	for _, a := range aliases {
		if slices.Contains(a.Versions(), version) {
			users = append(users, a.Name)
		}
	}
	if len(users) > 0 {
		return &VersionInUseError{Aliases: users}
	}
	if err := s.kv.Purge(ctx, versionKey(name, version)); err != nil {
		return fmt.Errorf("delete version %s:%s: %w", name, version, err)
	}
	s.purgeQualifierSettings(ctx, name, version)
	s.collectCode(ctx, fn.CodeSha256)
	return nil
}

// purgeQualifierSettings removes every fn.<name>.<setting>.<qualifier>
// key, best effort: a leftover setting of a deleted qualifier is never
// read, because every reader checks the qualifier exists first.
func (s *Store) purgeQualifierSettings(ctx context.Context, name, qualifier string) {
	entries, err := s.scan(ctx, keyPrefix+name+".*."+qualifier)
	if err != nil {
		s.log.Warn("remove settings of a deleted qualifier", "function", name, "qualifier", qualifier, "err", err)
		return
	}
	for _, e := range entries {
		if e.Key() == versionKey(name, qualifier) {
			continue
		}
		if err := s.kv.Purge(ctx, e.Key()); err != nil {
			s.log.Warn("remove settings of a deleted qualifier", "key", e.Key(), "err", err)
		}
	}
}

// LiveRevisions maps every stored version of name ($LATEST and published)
// to its RevisionId; empty when the function does not exist.
func (s *Store) LiveRevisions(ctx context.Context, name string) (map[string]string, error) {
	versions, err := s.ListVersions(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	live := make(map[string]string, len(versions))
	for _, fn := range versions {
		live[fn.Version] = fn.RevisionID
	}
	return live, nil
}
