package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// codeObjectName maps a CodeSha256 (standard base64 of a SHA-256) to its
// object name, the digest in lowercase hex.
func codeObjectName(sha string) (string, error) {
	sum, err := base64.StdEncoding.DecodeString(sha)
	if err != nil || len(sum) != sha256.Size {
		return "", fmt.Errorf("invalid code sha %q", sha)
	}
	return hex.EncodeToString(sum), nil
}

// PutCode stores zip under sha, its base64 SHA-256 (Lambda's CodeSha256).
// It is idempotent: code already stored under sha is left as it is. It
// returns an error, storing nothing, if sha is not the digest of zip.
func (s *Store) PutCode(ctx context.Context, sha string, zip []byte) error {
	name, err := codeObjectName(sha)
	if err != nil {
		return fmt.Errorf("put code: %w", err)
	}
	if sum := sha256.Sum256(zip); hex.EncodeToString(sum[:]) != name {
		return fmt.Errorf("put code: sha %s does not match the zip", sha)
	}
	_, err = s.code.GetInfo(ctx, name)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("put code %s: %w", sha, err)
	}
	if _, err := s.code.PutBytes(ctx, name, zip); err != nil {
		return fmt.Errorf("put code %s: %w", sha, err)
	}
	return nil
}

// GetCode returns the zip stored under sha, or ErrNotFound.
func (s *Store) GetCode(ctx context.Context, sha string) ([]byte, error) {
	name, err := codeObjectName(sha)
	if err != nil {
		return nil, fmt.Errorf("get code: %w", err)
	}
	zip, err := s.code.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("get code %s: %w", sha, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get code %s: %w", sha, err)
	}
	return zip, nil
}

// collectCode deletes the code objects of shas that no stored function
// version refers to. It runs after the write that dropped the reference has
// committed, so it only logs its failures: the write already succeeded.
func (s *Store) collectCode(ctx context.Context, shas ...string) {
	if len(shas) == 0 {
		return
	}
	// One filter, not one per key kind: multi-filter consumers need
	// nats-server 2.10, and clusters on 2.9 are still common.
	entries, err := s.scan(ctx, allFunctionsFilter())
	if err != nil {
		s.log.Warn("collect code: scan references", "err", err)
		return
	}
	referenced := make(map[string]bool, len(entries))
	for _, e := range entries {
		if !isFunctionValueKey(e.Key()) {
			continue
		}
		fn, err := decode(e)
		if err != nil {
			// An unreadable version might refer to anything; keep all code.
			s.log.Warn("collect code: scan references", "err", err)
			return
		}
		referenced[fn.CodeSha256] = true
	}
	for _, sha := range shas {
		if referenced[sha] {
			continue
		}
		referenced[sha] = true // delete each sha once
		name, err := codeObjectName(sha)
		if err != nil {
			continue // never stored
		}
		if err := s.code.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			s.log.Warn("collect code: delete", "sha", sha, "err", err)
		}
	}
}
