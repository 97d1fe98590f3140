package iam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/natsd"

	"gust/internal/iam/policy"
)

// Options configure Open.
type Options struct {
	// Prefix names the bucket "<Prefix>_iam". Default "gust". Gust nodes
	// of one deployment use the same prefix.
	Prefix string
	// Replicas is the bucket's JetStream replication factor when Open
	// creates it. Default 1; use 3 on a three-node cluster.
	Replicas int
	// Account is the 12-digit account id in every ARN. Required.
	Account string
	// Admin is the account root's key pair, which resolves to the root
	// principal. It is configuration, never stored in the bucket.
	// Required.
	Admin AccessKey
	// Logger receives problems the Store handles itself (an undecodable
	// record, a watch that stopped). Default: nil discards them.
	Logger *slog.Logger
}

// AccessKey is a key pair clients sign requests with.
type AccessKey struct {
	ID     string `json:"AccessKeyId"`
	Secret string `json:"SecretAccessKey"`
}

// Store holds users, roles and keys, and resolves access keys to
// principals. It is safe for concurrent use.
type Store struct {
	kv      jetstream.KeyValue
	account string
	admin   AccessKey
	log     *slog.Logger
	now     func() time.Time
	session *sessionKeys

	mu        sync.RWMutex
	users     map[string]*userEntry // by keyToken(name)
	keys      map[string]*userEntry // by access key id
	roles     map[string]*roleEntry // by keyToken(name)
	rolesByID map[string]*roleEntry // by role id, which session tokens carry
	applied   uint64                // last bucket revision the copy reflects
	advanced  chan struct{}         // closed and replaced whenever applied moves

	cancel    context.CancelFunc
	watchDone chan struct{} // closed when the watch goroutine ends
	closeOnce sync.Once
}

// applyTimeout bounds how long a write waits for the watch to apply it.
const applyTimeout = 10 * time.Second

// Open binds to the bucket (creating it if needed), loads every user and
// role into memory, and starts the watch that keeps that copy current. It
// then makes sure the session master key and the default role exist.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Store, error) {
	if opts.Prefix == "" {
		opts.Prefix = "gust"
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if !accountPattern.MatchString(opts.Account) {
		return nil, fmt.Errorf("open iam: account id must be 12 digits, got %q", opts.Account)
	}
	if opts.Admin.ID == "" || opts.Admin.Secret == "" {
		return nil, errors.New("open iam: the admin key pair is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, err := natsd.BindKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      opts.Prefix + "_iam",
		Description: "Gust users, roles and access keys",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open iam: %w", err)
	}
	s := &Store{
		kv:        kv,
		account:   opts.Account,
		admin:     opts.Admin,
		log:       log.With("component", "iam"),
		now:       time.Now,
		users:     map[string]*userEntry{},
		keys:      map[string]*userEntry{},
		roles:     map[string]*roleEntry{},
		rolesByID: map[string]*roleEntry{},
		advanced:  make(chan struct{}),
		watchDone: make(chan struct{}),
	}
	if err := s.startWatch(ctx); err != nil {
		return nil, fmt.Errorf("open iam: %w", err)
	}
	if err := s.loadSessionKey(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open iam: %w", err)
	}
	if err := s.ensureDefaultRole(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open iam: %w", err)
	}
	return s, nil
}

// Close stops the watch and waits for it. It does not close the NATS
// connection, which the caller owns. Resolve keeps answering from the last
// copy; writes fail. Safe to call more than once.
func (s *Store) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.watchDone
	})
}

// startWatch starts the watch goroutine and waits until the in-memory
// copy holds everything the bucket held when it started.
func (s *Store) startWatch(ctx context.Context) error {
	// Everything up to this revision is in the watch's initial values.
	snapshot, err := s.lastRevision(ctx)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(context.Background())
	w, err := s.kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return fmt.Errorf("watch iam bucket: %w", err)
	}
	s.cancel = cancel
	ready := make(chan struct{})
	go s.watch(wctx, w, snapshot, ready)
	select {
	case <-ready:
		return nil
	case <-s.watchDone:
		s.Close()
		return errors.New("watch iam bucket: watcher closed while loading")
	case <-ctx.Done():
		s.Close()
		return fmt.Errorf("load iam bucket: %w", ctx.Err())
	}
}

// watch applies every change of the bucket to the in-memory copy, in
// bucket order, until ctx ends or the watcher closes.
func (s *Store) watch(ctx context.Context, w jetstream.KeyWatcher, snapshot uint64, ready chan<- struct{}) {
	defer close(s.watchDone)
	defer func() {
		_ = w.Stop()
		for range w.Updates() {
		}
	}()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() == nil {
					s.log.Warn("iam watch closed; credentials changed elsewhere are no longer seen here")
				}
				return
			}
			if e == nil { // end of the initial values
				s.mu.Lock()
				s.advance(snapshot)
				s.mu.Unlock()
				close(ready)
				continue
			}
			s.apply(e)
		case <-ctx.Done():
			return
		}
	}
}

// apply puts one bucket entry (a value or a deletion) into the copy.
func (s *Store) apply(e jetstream.KeyValueEntry) {
	key := e.Key()
	put := e.Operation() == jetstream.KeyValuePut
	switch {
	case strings.HasPrefix(key, userPrefix):
		var entry *userEntry
		if put {
			var err error
			if entry, err = decodeUser(e.Value()); err != nil {
				s.log.Warn("skip undecodable user", "key", key, "err", err)
			}
		}
		s.mu.Lock()
		s.setUser(key[len(userPrefix):], entry)
		s.advance(e.Revision())
		s.mu.Unlock()
	case strings.HasPrefix(key, rolePrefix):
		var entry *roleEntry
		if put {
			var err error
			if entry, err = decodeRole(e.Value()); err != nil {
				s.log.Warn("skip undecodable role", "key", key, "err", err)
			}
		}
		s.mu.Lock()
		s.setRole(key[len(rolePrefix):], entry)
		s.advance(e.Revision())
		s.mu.Unlock()
	default:
		s.mu.Lock()
		s.advance(e.Revision())
		s.mu.Unlock()
	}
}

// setUser replaces the user at token (nil = removed) and its keys. s.mu
// must be held.
func (s *Store) setUser(token string, entry *userEntry) {
	if old := s.users[token]; old != nil {
		for _, k := range old.rec.Keys {
			if s.keys[k.ID] == old {
				delete(s.keys, k.ID)
			}
		}
		delete(s.users, token)
	}
	if entry == nil {
		return
	}
	s.users[token] = entry
	for _, k := range entry.rec.Keys {
		s.keys[k.ID] = entry
	}
}

// setRole replaces the role at token (nil = removed). s.mu must be held.
func (s *Store) setRole(token string, entry *roleEntry) {
	if old := s.roles[token]; old != nil {
		delete(s.rolesByID, old.rec.ID)
		delete(s.roles, token)
	}
	if entry == nil {
		return
	}
	s.roles[token] = entry
	s.rolesByID[entry.rec.ID] = entry
}

// advance records that the copy reflects the bucket up to rev. s.mu must
// be held.
func (s *Store) advance(rev uint64) {
	if rev <= s.applied {
		return
	}
	s.applied = rev
	close(s.advanced)
	s.advanced = make(chan struct{})
}

// waitApplied returns once the copy reflects bucket revision rev, so that
// a write is visible to Resolve on this node when the write returns.
func (s *Store) waitApplied(ctx context.Context, rev uint64) error {
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	for {
		s.mu.RLock()
		done, advanced := s.applied >= rev, s.advanced
		s.mu.RUnlock()
		if done {
			return nil
		}
		select {
		case <-advanced:
		case <-s.watchDone:
			return fmt.Errorf("wait for the change to apply: %w", ErrClosed)
		case <-ctx.Done():
			return fmt.Errorf("wait for the change to apply: %w", ctx.Err())
		}
	}
}

// syncWrite waits until the copy reflects everything written to the
// bucket so far: for deletions, whose revision JetStream does not return.
func (s *Store) syncWrite(ctx context.Context) error {
	rev, err := s.lastRevision(ctx)
	if err != nil {
		return err
	}
	return s.waitApplied(ctx, rev)
}

// lastRevision is the bucket's latest revision.
func (s *Store) lastRevision(ctx context.Context) (uint64, error) {
	status, err := s.kv.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("iam bucket status: %w", err)
	}
	bucket, ok := status.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return 0, fmt.Errorf("iam bucket status: unexpected type %T", status)
	}
	return bucket.StreamInfo().State.LastSeq, nil
}

// checkOpen refuses writes after Close.
func (s *Store) checkOpen() error {
	select {
	case <-s.watchDone:
		return ErrClosed
	default:
		return nil
	}
}

// parsePolicy validates an identity policy document; empty (or only
// whitespace) means none.
func parsePolicy(doc []byte) (*policy.Document, error) {
	if len(strings.TrimSpace(string(doc))) == 0 {
		return nil, nil
	}
	if len(doc) > maxPolicyBytes {
		return nil, invalid("Cannot exceed quota for PolicySize: %d", maxPolicyBytes)
	}
	d, err := policy.ParseIdentity(doc)
	if err != nil {
		return nil, &Error{Kind: ErrInvalid, Message: err.Error(), Cause: err}
	}
	return d, nil
}

// maxPolicyBytes bounds one inline policy document, as IAM bounds a
// role's inline policies (10,240 characters).
const maxPolicyBytes = 10240
