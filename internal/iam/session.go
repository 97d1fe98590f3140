package iam

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SessionCredentials are temporary credentials of a role session, as a
// function's environment gets them (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
type SessionCredentials struct {
	AccessKeyID     string    `json:"AccessKeyId"`
	SecretAccessKey string    `json:"SecretAccessKey"`
	SessionToken    string    `json:"SessionToken"`
	Expiration      time.Time `json:"Expiration"`
}

// MaxSessionTTL bounds a session's lifetime, as AssumeRole's longest
// DurationSeconds does.
const MaxSessionTTL = 12 * time.Hour

// maxTokenBytes bounds a session token Resolve will look at; real ones
// are about 200 bytes.
const maxTokenBytes = 1024

const sessionTokenVersion = "1"

// sessionKeys are derived from the bucket's master key: one MACs tokens,
// the other derives their secrets, so neither reveals the other. The
// keyed HMAC states and the buffers Resolve needs are pooled: allocating
// them per request would cost more than the rest of Resolve.
type sessionKeys struct{ pool sync.Pool } // of *sessionScratch

type sessionScratch struct {
	mac, secret hash.Hash // keyed HMAC-SHA256
	payload     [maxTokenBytes]byte
	sum         [sha256.Size]byte
	sum2        [sha256.Size]byte
	secretB64   [44]byte // base64 of a sum
}

func deriveSessionKeys(master []byte) *sessionKeys {
	derive := func(label string) []byte {
		h := hmac.New(sha256.New, master)
		h.Write([]byte(label))
		return h.Sum(nil)
	}
	macKey, secretKey := derive("gust session token mac"), derive("gust session secret")
	k := &sessionKeys{}
	k.pool.New = func() any {
		return &sessionScratch{mac: hmac.New(sha256.New, macKey), secret: hmac.New(sha256.New, secretKey)}
	}
	return k
}

func (k *sessionKeys) get() *sessionScratch   { return k.pool.Get().(*sessionScratch) }
func (k *sessionKeys) put(sc *sessionScratch) { k.pool.Put(sc) }

// sum appends the HMAC of payload under h's key to out.
func sum(h hash.Hash, payload []byte, out []byte) []byte {
	h.Reset()
	h.Write(payload)
	return h.Sum(out)
}

// secretFor derives a session's secret access key from its token's
// content: 40 characters, like a long-term secret.
func (sc *sessionScratch) secretFor(payload []byte) string {
	base64.StdEncoding.Encode(sc.secretB64[:], sum(sc.secret, payload, sc.sum2[:0]))
	return string(sc.secretB64[:40])
}

// loadSessionKey reads the master key, creating it if this is the first
// node: Create makes nodes starting together agree on one key.
func (s *Store) loadSessionKey(ctx context.Context) error {
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	_, err := s.kv.Create(ctx, sessionKeyKey, master)
	if errors.Is(err, jetstream.ErrKeyExists) {
		var e jetstream.KeyValueEntry
		if e, err = s.kv.Get(ctx, sessionKeyKey); err == nil {
			master = e.Value()
			if len(master) < 32 {
				return fmt.Errorf("session key: stored key is %d bytes, want 32", len(master))
			}
		}
	}
	if err != nil {
		return fmt.Errorf("session key: %w", err)
	}
	s.session = deriveSessionKeys(master)
	return nil
}

// IssueSession issues temporary credentials of the role named by roleARN
// (arn:aws:iam::<account>:role/[<path>/]<name>) for a session named
// sessionName (2 to 64 of [\w+=,.@-]), valid for ttl (at most
// MaxSessionTTL). It does no I/O: any node resolves the credentials
// without a lookup. ErrNotFound if the role does not exist; ErrInvalid
// for a bad ARN, session name or ttl.
func (s *Store) IssueSession(roleARN, sessionName string, ttl time.Duration) (SessionCredentials, error) {
	name, ok := s.roleNameFromARN(roleARN)
	if !ok {
		return SessionCredentials{}, invalid("%s is not a role ARN of account %s", truncate(roleARN), s.account)
	}
	if !sessionNamePattern.MatchString(sessionName) {
		return SessionCredentials{}, invalid("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: "+
			"Member must satisfy regular expression pattern: [\\w+=,.@-]{2,64}", truncate(sessionName))
	}
	if ttl <= 0 || ttl > MaxSessionTTL {
		return SessionCredentials{}, invalid("session lifetime %s must be more than 0 and at most %s", ttl, MaxSessionTTL)
	}
	s.mu.RLock()
	role := s.roles[keyToken(name)]
	s.mu.RUnlock()
	if role == nil {
		return SessionCredentials{}, notFound("role", name)
	}
	expires := s.now().Add(ttl).Truncate(time.Millisecond)
	akid := temporaryKeyPrefix + randomString(16, base32Alphabet)
	payload := []byte(strings.Join([]string{
		sessionTokenVersion, akid, role.rec.Name, role.rec.ID, sessionName, strconv.FormatInt(expires.UnixMilli(), 10),
	}, "\n"))
	sc := s.session.get()
	defer s.session.put(sc)
	return SessionCredentials{
		AccessKeyID:     akid,
		SecretAccessKey: sc.secretFor(payload),
		SessionToken:    base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(sum(sc.mac, payload, nil)),
		Expiration:      expires.UTC(),
	}, nil
}

// resolveSession checks a session token's MAC, key id, expiry and role.
// It is on the path of every request signed with session credentials,
// so it parses in place instead of splitting into new strings.
func (s *Store) resolveSession(accessKeyID, token string) (Principal, string, bool) {
	if len(token) > maxTokenBytes {
		return Principal{}, "", false
	}
	encPayload, encMAC, ok := strings.Cut(token, ".")
	if !ok {
		return Principal{}, "", false
	}
	// Strict: one token has exactly one spelling.
	enc := base64.RawURLEncoding.Strict()
	if enc.DecodedLen(len(encMAC)) != sha256.Size {
		return Principal{}, "", false
	}
	sc := s.session.get()
	defer s.session.put(sc)
	n, err1 := enc.Decode(sc.payload[:], []byte(encPayload))
	_, err2 := enc.Decode(sc.sum[:], []byte(encMAC))
	if err1 != nil || err2 != nil {
		return Principal{}, "", false
	}
	payload := sc.payload[:n]
	if !hmac.Equal(sc.sum[:], sum(sc.mac, payload, sc.sum2[:0])) {
		return Principal{}, "", false
	}
	// The MAC is ours, so the fields are as IssueSession wrote them:
	// version, key id, role name, role id, session name, expiry (ms).
	var f [6][]byte
	rest := payload
	for i := range f {
		var found bool
		f[i], rest, found = bytes.Cut(rest, []byte("\n"))
		if found != (i < len(f)-1) {
			return Principal{}, "", false
		}
	}
	if string(f[0]) != sessionTokenVersion || string(f[1]) != accessKeyID {
		return Principal{}, "", false
	}
	expiresMs, ok := parseMillis(f[5])
	if !ok || !s.now().Before(time.UnixMilli(expiresMs)) {
		return Principal{}, "", false
	}
	s.mu.RLock()
	role := s.rolesByID[string(f[3])]
	s.mu.RUnlock()
	if role == nil || role.rec.Name != string(f[2]) {
		return Principal{}, "", false // deleted, perhaps created again with a new id
	}
	session := string(f[4])
	return Principal{
		Kind:    PrincipalAssumedRole,
		Name:    role.rec.Name,
		Session: session,
		ARN:     "arn:aws:sts::" + s.account + ":assumed-role/" + role.rec.Name + "/" + session,
		Account: s.account,
	}, sc.secretFor(payload), true
}

// parseMillis parses a non-negative decimal, as IssueSession writes it.
func parseMillis(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
