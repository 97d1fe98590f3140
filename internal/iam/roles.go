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

// DefaultRole is the role Open creates when it is missing: the execution
// role a function gets when it names no other, allowed only to write its
// own logs.
const DefaultRole = "lambda-role"

// Role is an IAM role as the admin API shows it. Its policy is what a
// session of the role (a function's execution environment) may do.
type Role struct {
	Name    string    `json:"RoleName"`
	ID      string    `json:"RoleId"`
	ARN     string    `json:"Arn"`
	Created time.Time `json:"CreateDate"`
	Policy  string    `json:"PolicyDocument,omitempty"` // the inline policy as put; "" if none
}

// roleRecord is a role as stored under role.<name>.
type roleRecord struct {
	Name    string    `json:"name"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Policy  string    `json:"policy,omitempty"`
}

// roleEntry is a role in the in-memory copy, policy parsed.
type roleEntry struct {
	rec roleRecord
	doc *policy.Document // nil without a policy
}

func decodeRole(b []byte) (*roleEntry, error) {
	var rec roleRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, err
	}
	e := &roleEntry{rec: rec}
	if rec.Policy != "" {
		doc, err := policy.ParseIdentity([]byte(rec.Policy))
		if err != nil {
			return e, fmt.Errorf("policy of role %s: %w", rec.Name, err)
		}
		e.doc = doc
	}
	return e, nil
}

func (s *Store) roleARN(name string) string { return "arn:aws:iam::" + s.account + ":role/" + name }

func (s *Store) role(rec roleRecord) Role {
	return Role{Name: rec.Name, ID: rec.ID, ARN: s.roleARN(rec.Name), Created: rec.Created, Policy: rec.Policy}
}

// CreateRole creates a role with doc as its inline identity policy (empty
// = none). A name taken by another role, in any case, is ErrExists; a
// document policy.ParseIdentity rejects is ErrInvalid.
func (s *Store) CreateRole(ctx context.Context, name string, doc []byte) (Role, error) {
	if err := checkName("roleName", name); err != nil {
		return Role{}, err
	}
	if _, err := parsePolicy(doc); err != nil {
		return Role{}, err
	}
	if err := s.checkOpen(); err != nil {
		return Role{}, err
	}
	rec := roleRecord{
		Name:    name,
		ID:      roleIDPrefix + randomString(17, base32Alphabet),
		Created: s.now().UTC(),
		Policy:  strings.TrimSpace(string(doc)),
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return Role{}, fmt.Errorf("create role: %w", err)
	}
	rev, err := s.kv.Create(ctx, roleKey(name), b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return Role{}, exists("Role", name)
	}
	if err != nil {
		return Role{}, fmt.Errorf("create role %s: %w", name, err)
	}
	if err := s.waitApplied(ctx, rev); err != nil {
		return Role{}, fmt.Errorf("create role %s: %w", name, err)
	}
	return s.role(rec), nil
}

// GetRole returns a role by name (any case), or ErrNotFound.
func (s *Store) GetRole(ctx context.Context, name string) (Role, error) {
	rec, _, err := s.getRole(ctx, name)
	if err != nil {
		return Role{}, err
	}
	return s.role(rec), nil
}

func (s *Store) getRole(ctx context.Context, name string) (roleRecord, uint64, error) {
	if checkName("roleName", name) != nil {
		return roleRecord{}, 0, notFound("role", name)
	}
	e, err := s.kv.Get(ctx, roleKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return roleRecord{}, 0, notFound("role", name)
	}
	if err != nil {
		return roleRecord{}, 0, fmt.Errorf("get role %s: %w", name, err)
	}
	var rec roleRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return roleRecord{}, 0, fmt.Errorf("decode role %s: %w", name, err)
	}
	return rec, e.Revision(), nil
}

// ListRoles returns every role, sorted by name.
func (s *Store) ListRoles(ctx context.Context) ([]Role, error) {
	var roles []Role
	err := s.list(ctx, rolePrefix, func(b []byte) error {
		var rec roleRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return err
		}
		roles = append(roles, s.role(rec))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	slices.SortFunc(roles, func(a, b Role) int { return strings.Compare(fold(a.Name), fold(b.Name)) })
	return roles, nil
}

// DeleteRole deletes a role; its sessions stop resolving when DeleteRole
// returns, and stay invalid if a role of the same name is created again.
// ErrNotFound if there is no such role. Functions naming the role keep
// their configuration (as in AWS) but can no longer get its credentials.
func (s *Store) DeleteRole(ctx context.Context, name string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	for range maxUpdateAttempts {
		_, rev, err := s.getRole(ctx, name)
		if err != nil {
			return err
		}
		err = s.kv.Delete(ctx, roleKey(name), jetstream.LastRevision(rev))
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return fmt.Errorf("delete role %s: %w", name, err)
		}
		if err := s.syncWrite(ctx); err != nil {
			return fmt.Errorf("delete role %s: %w", name, err)
		}
		return nil
	}
	return fmt.Errorf("delete role %s: too many concurrent updates", name)
}

// PutRolePolicy sets the role's inline identity policy, replacing any
// previous one; an empty doc removes it. Sessions of the role see the new
// policy at once.
func (s *Store) PutRolePolicy(ctx context.Context, name string, doc []byte) error {
	if _, err := parsePolicy(doc); err != nil {
		return err
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	text := strings.TrimSpace(string(doc))
	for range maxUpdateAttempts {
		rec, rev, err := s.getRole(ctx, name)
		if err != nil {
			return err
		}
		rec.Policy = text
		b, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("put role policy %s: %w", name, err)
		}
		newRev, err := s.kv.Update(ctx, roleKey(name), b, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return fmt.Errorf("put role policy %s: %w", name, err)
		}
		if err := s.waitApplied(ctx, newRev); err != nil {
			return fmt.Errorf("put role policy %s: %w", name, err)
		}
		return nil
	}
	return fmt.Errorf("put role policy %s: too many concurrent updates", name)
}

// RoleExists reports whether arn names an existing role of this account:
// arn:aws:iam::<account>:role/<name> or …:role/<path>/<name>, where the
// last path segment is the name. A malformed ARN or one of another
// account is a role that does not exist (false, nil).
func (s *Store) RoleExists(ctx context.Context, arn string) (bool, error) {
	name, ok := s.roleNameFromARN(arn)
	if !ok {
		return false, nil
	}
	_, _, err := s.getRole(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// roleNameFromARN returns the role name of a role ARN of this account.
func (s *Store) roleNameFromARN(arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::"+s.account+":role/")
	if !ok {
		return "", false
	}
	name := rest[strings.LastIndexByte(rest, '/')+1:]
	if checkName("roleName", name) != nil {
		return "", false
	}
	return name, true
}

// defaultRolePolicy lets a function create and write its own log group
// and streams, and nothing else.
func (s *Store) defaultRolePolicy() string {
	return `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
      "Resource": "arn:aws:logs:*:` + s.account + `:log-group:/aws/lambda/*"
    }
  ]
}`
}

// ensureDefaultRole creates DefaultRole unless it exists; another node
// creating it at the same moment is fine.
func (s *Store) ensureDefaultRole(ctx context.Context) error {
	s.mu.RLock()
	_, ok := s.roles[keyToken(DefaultRole)]
	s.mu.RUnlock()
	if ok {
		return nil
	}
	_, err := s.CreateRole(ctx, DefaultRole, []byte(s.defaultRolePolicy()))
	if errors.Is(err, ErrExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create default role: %w", err)
	}
	s.log.Info("created default execution role", "role", s.roleARN(DefaultRole))
	return nil
}
