package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/iam/policy"
	"gust/internal/lambda"
)

// Resource-based policies (AddPermission statements) live at
// fn.<name>.policy.<qualifier>, one per qualifier, so DeleteFunction removes
// them with the function, DeleteVersion's settings sweep removes a
// version's, and Watch reports their changes under the function's name.
// The unqualified function and $LATEST share one policy, as in Lambda,
// stored under "=LATEST" ('$' is not a valid key character).

// Policy document defaults, as Lambda writes them.
const (
	policyVersion = policy.Version2012
	policyID      = "default"
)

func policyKey(name, qualifier string) string {
	if qualifier == "" || qualifier == lambda.LatestVersion {
		qualifier = "=LATEST"
	}
	return keyPrefix + name + ".policy." + qualifier
}

func allPoliciesFilter(name string) string { return keyPrefix + name + ".policy.*" }

// policyKeyFor validates name and qualifier ("" = $LATEST) and gives their key.
func policyKeyFor(name, qualifier string) (string, bool) {
	if !lambda.ValidFunctionName(name) || (qualifier != "" && !lambda.ValidQualifier(qualifier)) {
		return "", false
	}
	return policyKey(name, qualifier), true
}

// storedPolicy is the JSON value of a policy key. RevisionID changes on
// every write, so a caller can make a change conditional on what it read.
type storedPolicy struct {
	RevisionID string          `json:"revisionId"`
	Document   policy.Document `json:"document"`
}

// GetPolicy returns the resource-based policy of one qualifier of a
// function ("$LATEST" or "" for the function itself, a version or an
// alias) and its revision id. It returns ErrNotFound if there is none (or
// there cannot be one, such as for an invalid name); a policy always has
// at least one statement.
func (s *Store) GetPolicy(ctx context.Context, name, qualifier string) (*policy.Document, string, error) {
	key, ok := policyKeyFor(name, qualifier)
	if !ok {
		return nil, "", ErrNotFound
	}
	p, _, err := s.getPolicy(ctx, key)
	if err != nil {
		return nil, "", fmt.Errorf("get policy %s:%s: %w", name, qualifier, err)
	}
	return &p.Document, p.RevisionID, nil
}

// UpdatePolicy applies mutate to the policy of name and qualifier and
// stores the result under a new revision id if nobody changed the policy
// meanwhile, retrying with a fresh copy otherwise; so mutate may run
// several times and must depend only on its arguments. mutate gets the
// current revision id ("" when there is no policy yet, in which case doc
// is an empty 2012-10-17 document with Id "default"), so it can refuse a
// stale precondition atomically. If mutate returns an error nothing is
// written and the error is returned as is. A result without statements
// deletes the policy and returns revision id "". It returns ErrNotFound if
// the function does not exist, and ErrConflict if it keeps losing the race.
// A write that races with DeleteFunction is undone, as for event invoke
// configs.
func (s *Store) UpdatePolicy(ctx context.Context, name, qualifier string, mutate func(doc *policy.Document, revisionID string) error) (*policy.Document, string, error) {
	key, ok := policyKeyFor(name, qualifier)
	if !ok {
		return nil, "", ErrNotFound
	}
	wrap := func(err error) error { return fmt.Errorf("update policy %s:%s: %w", name, qualifier, err) }
	if err := s.eicFunctionExists(ctx, name); err != nil {
		return nil, "", wrap(err)
	}
	for attempt := range updateAttempts {
		cur, rev, err := s.getPolicy(ctx, key)
		switch {
		case errors.Is(err, ErrNotFound):
			cur, rev = &storedPolicy{Document: policy.Document{Version: policyVersion, ID: policyID}}, 0
		case err != nil:
			return nil, "", wrap(err)
		}
		if err := mutate(&cur.Document, cur.RevisionID); err != nil {
			return nil, "", err
		}
		next := storedPolicy{Document: cur.Document}
		switch {
		case len(next.Document.Statement) == 0 && rev == 0:
			return &next.Document, "", nil // nothing stored, nothing to store
		case len(next.Document.Statement) == 0:
			err = s.kv.Purge(ctx, key, jetstream.LastRevision(rev))
		default:
			next.RevisionID = uuid.NewString()
			data, merr := json.Marshal(next)
			if merr != nil {
				return nil, "", wrap(merr)
			}
			if rev == 0 {
				_, err = s.kv.Create(ctx, key, data)
			} else {
				_, err = s.kv.Update(ctx, key, data, rev)
			}
		}
		if err == nil {
			if next.RevisionID != "" {
				if err := s.undoPolicyIfFunctionGone(ctx, name, key); err != nil {
					return nil, "", wrap(err)
				}
			}
			return &next.Document, next.RevisionID, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, "", wrap(err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, "", wrap(err)
		}
	}
	return nil, "", wrap(ErrConflict)
}

// ListPolicies returns every resource-based policy of a function keyed by
// qualifier ("$LATEST" for the function's own). None is an empty map, not
// an error, even when the function does not exist.
func (s *Store) ListPolicies(ctx context.Context, name string) (map[string]*policy.Document, error) {
	out := map[string]*policy.Document{}
	if !lambda.ValidFunctionName(name) {
		return out, nil
	}
	entries, err := s.scan(ctx, allPoliciesFilter(name))
	if err != nil {
		return nil, fmt.Errorf("list policies %s: %w", name, err)
	}
	prefix := keyPrefix + name + ".policy."
	for _, e := range entries {
		p, err := decodePolicy(e)
		if err != nil {
			return nil, fmt.Errorf("list policies %s: %w", name, err)
		}
		q := strings.TrimPrefix(e.Key(), prefix)
		if q == "=LATEST" {
			q = lambda.LatestVersion
		}
		out[q] = &p.Document
	}
	return out, nil
}

// undoPolicyIfFunctionGone removes key, just written, if the function was
// deleted while it was being written: DeleteFunction's scan may have
// missed it.
func (s *Store) undoPolicyIfFunctionGone(ctx context.Context, name, key string) error {
	err := s.eicFunctionExists(ctx, name)
	if errors.Is(err, ErrNotFound) {
		if perr := s.kv.Purge(ctx, key); perr != nil {
			return fmt.Errorf("function deleted meanwhile, and removing its policy: %w", perr)
		}
		return ErrNotFound
	}
	return err
}

// getPolicy reads and decodes one policy with its KV revision. Absent keys
// give ErrNotFound.
func (s *Store) getPolicy(ctx context.Context, key string) (*storedPolicy, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	p, err := decodePolicy(e)
	if err != nil {
		return nil, 0, err
	}
	return p, e.Revision(), nil
}

func decodePolicy(e jetstream.KeyValueEntry) (*storedPolicy, error) {
	var p storedPolicy
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return nil, fmt.Errorf("decode %s: %w", e.Key(), err)
	}
	return &p, nil
}
