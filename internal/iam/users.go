package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/iam/policy"
)

// User is an IAM user as the admin API shows it.
type User struct {
	Name       string    `json:"UserName"`
	ID         string    `json:"UserId"`
	ARN        string    `json:"Arn"`
	Created    time.Time `json:"CreateDate"`
	AccessKeys []string  `json:"AccessKeyIds"`             // ids only; secrets are shown once, when issued
	Policy     string    `json:"PolicyDocument,omitempty"` // the inline policy as put; "" if none
}

// userRecord is a user as stored under user.<name>.
type userRecord struct {
	Name    string      `json:"name"`
	ID      string      `json:"id"`
	Created time.Time   `json:"created"`
	Policy  string      `json:"policy,omitempty"`
	Keys    []keyRecord `json:"keys"`
}

type keyRecord struct {
	ID      string    `json:"id"`
	Secret  string    `json:"secret"`
	Created time.Time `json:"created"`
}

// userEntry is a user in the in-memory copy, policy parsed.
type userEntry struct {
	rec userRecord
	doc *policy.Document // nil without a policy
}

func decodeUser(b []byte) (*userEntry, error) {
	var rec userRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, err
	}
	e := &userEntry{rec: rec}
	if rec.Policy != "" {
		doc, err := policy.ParseIdentity([]byte(rec.Policy))
		if err != nil {
			// Keep the user and its keys, without the policy: denying
			// is the safe reading of a policy this node cannot parse.
			return e, fmt.Errorf("policy of user %s: %w", rec.Name, err)
		}
		e.doc = doc
	}
	return e, nil
}

func (s *Store) userARN(name string) string { return "arn:aws:iam::" + s.account + ":user/" + name }

func (s *Store) user(rec userRecord) User {
	u := User{Name: rec.Name, ID: rec.ID, ARN: s.userARN(rec.Name), Created: rec.Created, Policy: rec.Policy, AccessKeys: []string{}}
	for _, k := range rec.Keys {
		u.AccessKeys = append(u.AccessKeys, k.ID)
	}
	return u
}

// CreateUser creates a user with one access key pair, which is returned
// here and never again. A name taken by another user, in any case, is
// ErrExists.
func (s *Store) CreateUser(ctx context.Context, name string) (User, AccessKey, error) {
	if err := checkName("userName", name); err != nil {
		return User{}, AccessKey{}, err
	}
	if err := s.checkOpen(); err != nil {
		return User{}, AccessKey{}, err
	}
	key := newAccessKey()
	now := s.now().UTC()
	rec := userRecord{
		Name:    name,
		ID:      userIDPrefix + randomString(17, base32Alphabet),
		Created: now,
		Keys:    []keyRecord{{ID: key.ID, Secret: key.Secret, Created: now}},
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return User{}, AccessKey{}, fmt.Errorf("create user: %w", err)
	}
	rev, err := s.kv.Create(ctx, userKey(name), b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return User{}, AccessKey{}, exists("User", name)
	}
	if err != nil {
		return User{}, AccessKey{}, fmt.Errorf("create user %s: %w", name, err)
	}
	if err := s.waitApplied(ctx, rev); err != nil {
		return User{}, AccessKey{}, fmt.Errorf("create user %s: %w", name, err)
	}
	return s.user(rec), key, nil
}

// GetUser returns a user by name (any case), or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (User, error) {
	rec, _, err := s.getUser(ctx, name)
	if err != nil {
		return User{}, err
	}
	return s.user(rec), nil
}

// getUser reads a user and its revision from the bucket.
func (s *Store) getUser(ctx context.Context, name string) (userRecord, uint64, error) {
	if checkName("userName", name) != nil {
		return userRecord{}, 0, notFound("user", name)
	}
	e, err := s.kv.Get(ctx, userKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return userRecord{}, 0, notFound("user", name)
	}
	if err != nil {
		return userRecord{}, 0, fmt.Errorf("get user %s: %w", name, err)
	}
	var rec userRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return userRecord{}, 0, fmt.Errorf("decode user %s: %w", name, err)
	}
	return rec, e.Revision(), nil
}

// ListUsers returns every user, sorted by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	var users []User
	err := s.list(ctx, userPrefix, func(b []byte) error {
		var rec userRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return err
		}
		users = append(users, s.user(rec))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	slices.SortFunc(users, func(a, b User) int { return strings.Compare(fold(a.Name), fold(b.Name)) })
	return users, nil
}

// DeleteUser deletes a user and with it every key it had; requests signed
// with them stop resolving when DeleteUser returns. ErrNotFound if there
// is no such user.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	// Delete with compare-and-set, so that deleting a user another node
	// has just deleted reports ErrNotFound, as a second delete here does.
	for range maxUpdateAttempts {
		_, rev, err := s.getUser(ctx, name)
		if err != nil {
			return err
		}
		err = s.kv.Delete(ctx, userKey(name), jetstream.LastRevision(rev))
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // changed meanwhile (a new key, a policy): delete what is there now
		}
		if err != nil {
			return fmt.Errorf("delete user %s: %w", name, err)
		}
		if err := s.syncWrite(ctx); err != nil {
			return fmt.Errorf("delete user %s: %w", name, err)
		}
		return nil
	}
	return fmt.Errorf("delete user %s: too many concurrent updates", name)
}

// PutUserPolicy sets the user's inline identity policy, replacing any
// previous one; an empty doc removes it. A document policy.ParseIdentity
// rejects is ErrInvalid (wrapping its *policy.MalformedError).
func (s *Store) PutUserPolicy(ctx context.Context, name string, doc []byte) error {
	if _, err := parsePolicy(doc); err != nil {
		return err
	}
	policyText := strings.TrimSpace(string(doc))
	_, err := s.updateUser(ctx, name, func(rec *userRecord) { rec.Policy = policyText })
	return err
}

// RotateKey issues a new key pair for the user and deletes the old ones,
// which stop resolving when RotateKey returns.
func (s *Store) RotateKey(ctx context.Context, name string) (AccessKey, error) {
	key := newAccessKey()
	_, err := s.updateUser(ctx, name, func(rec *userRecord) {
		rec.Keys = []keyRecord{{ID: key.ID, Secret: key.Secret, Created: s.now().UTC()}}
	})
	if err != nil {
		return AccessKey{}, err
	}
	return key, nil
}

// maxUpdateAttempts bounds compare-and-set retries under contention.
const maxUpdateAttempts = 10

// updateUser applies mutate to the stored user with compare-and-set,
// retrying when another writer got there first.
func (s *Store) updateUser(ctx context.Context, name string, mutate func(*userRecord)) (userRecord, error) {
	if err := s.checkOpen(); err != nil {
		return userRecord{}, err
	}
	for range maxUpdateAttempts {
		rec, rev, err := s.getUser(ctx, name)
		if err != nil {
			return userRecord{}, err
		}
		mutate(&rec)
		b, err := json.Marshal(rec)
		if err != nil {
			return userRecord{}, fmt.Errorf("update user %s: %w", name, err)
		}
		newRev, err := s.kv.Update(ctx, userKey(name), b, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return userRecord{}, fmt.Errorf("update user %s: %w", name, err)
		}
		if err := s.waitApplied(ctx, newRev); err != nil {
			return userRecord{}, fmt.Errorf("update user %s: %w", name, err)
		}
		return rec, nil
	}
	return userRecord{}, fmt.Errorf("update user %s: too many concurrent updates", name)
}

// list calls fn with the value of every key under prefix, as the bucket
// holds them now.
func (s *Store) list(ctx context.Context, prefix string, fn func([]byte) error) error {
	w, err := s.kv.WatchFiltered(ctx, []string{prefix + ">"}, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if e == nil { // every current value has been seen
				return nil
			}
			if err := fn(e.Value()); err != nil {
				return fmt.Errorf("decode %s: %w", e.Key(), err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
