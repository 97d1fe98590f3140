// Package store keeps Gust's functions and their code in NATS JetStream: one
// key-value bucket of function versions (JSON of lambda.Function) and one
// object-store bucket of code zips. It works the same on the embedded server
// and on an external cluster; several Gust nodes may share one Store.
//
// Key layout of the functions bucket (NATS KV keys allow [-/_=.a-zA-Z0-9],
// so "$LATEST" cannot be a key token; function names are [a-zA-Z0-9_-]):
//
//	fn.<name>.latest   the mutable $LATEST version
//	fn.<name>.v.<n>    published version n (1, 2, …), immutable
//	fn.<name>.next     the next version number to publish and the $LATEST
//	                   revision last published, so numbers are never
//	                   reused while the function exists and an unchanged
//	                   $LATEST publishes as the existing version
//	fn.<name>.concurrency  reserved concurrency (JSON integer), if set
//	fn.<name>.eic.<q>      event invoke config of qualifier q ("=LATEST"
//	                       for $LATEST), if set
//	fn.<name>.alias.<a>    alias a (lambda.Alias)
//	fn.<name>.policy.<q>   resource-based policy of qualifier q ("=LATEST"
//	                       for the function and $LATEST), if any
//	fn.<name>.pc.<q>       provisioned-concurrency config of version or
//	                       alias q, if set
//	fn.<name>.url.<q>      function URL config of the function ("=LATEST")
//	                       or of alias q
//	url.<id>               function URL index: url id → function and
//	                       qualifier
//
// Tags live on the $LATEST record; versions carry none. Settings of a
// qualifier (fn.<name>.*.<q>) go with its version or alias.
//
// Code objects are named by the lowercase hex of the SHA-256 in CodeSha256.
//
// Invariants: every write to $LATEST is a compare-and-set on the key's
// revision, so concurrent updaters on any node never lose each other's
// changes. A code object is deleted once no stored function version refers
// to it (after DeleteFunction, or an UpdateFunction that changes the code).
// That collection is best-effort: a function created with a sha at the very
// moment the last other reference to it is deleted can lose its code object;
// callers re-upload with PutCode, which is idempotent.
//
// Goroutines: one per Watch, stopped by the Watch's ctx or by Close.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/natsd"
)

// Errors callers map to Lambda wire errors themselves.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
	ErrConflict = errors.New("store: concurrent update") // CAS lost repeatedly
	ErrClosed   = errors.New("store: closed")
)

// Options configure Open.
type Options struct {
	// Prefix names the buckets: "<Prefix>_functions" (KV) and
	// "<Prefix>_code" (object store). Default "gust". Gust nodes that share
	// one deployment use the same prefix.
	Prefix string
	// Replicas is the JetStream replication factor of the buckets when Open
	// creates them. Default 1; use 3 on a three-node cluster.
	Replicas int
	// Logger receives problems Store handles itself (a failed code
	// collection, a watch that stopped). Default: nil discards them.
	Logger *slog.Logger
}

// Store is the function and code store. It is safe for concurrent use.
type Store struct {
	kv   jetstream.KeyValue
	code jetstream.ObjectStore
	log  *slog.Logger

	mu     sync.Mutex
	closed bool
	ctx    context.Context // cancelled by Close; parent of every Watch
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Open binds to the store's buckets, creating them if they do not exist.
// An existing bucket is used as it is, whatever its replication.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Store, error) {
	if opts.Prefix == "" {
		opts.Prefix = "gust"
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	kv, err := natsd.BindKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      opts.Prefix + "_functions",
		Description: "Gust function versions",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	code, err := bindObjectStore(ctx, js, jetstream.ObjectStoreConfig{
		Bucket:      opts.Prefix + "_code",
		Description: "Gust function code zips",
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}

	sctx, cancel := context.WithCancel(context.Background())
	return &Store{
		kv:     kv,
		code:   code,
		log:    log.With("component", "store"),
		ctx:    sctx,
		cancel: cancel,
	}, nil
}

// Close stops every Watch and waits for their goroutines. It does not close
// the NATS connection, which the caller owns. Safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// bindObjectStore is natsd.BindKeyValue for the object store.
func bindObjectStore(ctx context.Context, js jetstream.JetStream, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	obj, err := js.ObjectStore(ctx, cfg.Bucket)
	if err == nil {
		return obj, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("bind object store %s: %w", cfg.Bucket, err)
	}
	obj, err = js.CreateObjectStore(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		obj, err = js.ObjectStore(ctx, cfg.Bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("create object store %s: %w", cfg.Bucket, err)
	}
	return obj, nil
}
