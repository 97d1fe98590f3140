package s3events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/iam/policy"
	"gust/internal/invoke"
	"gust/internal/lambda"
	"gust/internal/natsd"
)

// Invoker queues Event invocations; invoke.Service implements it.
type Invoker interface {
	// Invoke runs req. With Type invoke.TypeEvent it returns once the
	// event is queued durably (after the async queue's fsync); the queue
	// then applies the function's retries and destinations. A function
	// that does not exist is a *lambda.Error of kind
	// ResourceNotFoundException.
	Invoke(ctx context.Context, req invoke.Request) (*invoke.Response, error)
}

// Policies reads a function's resource-based policy; store.Store
// implements it. A function or qualifier without one answers nil or an
// error matching store.ErrNotFound; both mean "no policy".
type Policies interface {
	GetPolicy(ctx context.Context, name, qualifier string) (*policy.Document, string, error)
}

// Options configure Open.
type Options struct {
	JS       jetstream.JetStream // required
	Identity lambda.Identity
	Invoker  Invoker  // required
	Policies Policies // required
	// Prefix names the bucket "<Prefix>_s3events". Default "gust".
	Prefix string
	// Replicas is the JetStream replication factor of the bucket when
	// Open creates it. Default 1.
	Replicas int
	// Logger receives refused and failed deliveries. Default: discard.
	Logger *slog.Logger
}

// Keys of the bucket.
const (
	webhookKeyKey = "webhook-key" // 32 random bytes the webhook token is derived from
	bucketPrefix  = "bucket."     // bucket.<name> → NotificationConfiguration
)

// Service is the object-store notification service of one node. It
// starts no goroutines: configurations are read from the bucket when an
// event arrives, so a change made on any node applies to the next event
// on every node. It is safe for concurrent use.
type Service struct {
	opts  Options
	kv    jetstream.KeyValue
	token string // the webhook's path token, the same on every node
	log   *slog.Logger

	lastSeq atomic.Int64 // last generated sequencer, in ns
	stats   counters

	mu     sync.Mutex
	closed bool
}

// Open binds to the bucket, creating it if need be, and loads (or, on the
// first node, creates) the key the webhook token is derived from.
func Open(ctx context.Context, opts Options) (*Service, error) {
	if opts.JS == nil || opts.Invoker == nil || opts.Policies == nil {
		return nil, errors.New("open s3events: JS, Invoker and Policies are required")
	}
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
	kv, err := natsd.BindKeyValue(ctx, opts.JS, jetstream.KeyValueConfig{
		Bucket:      opts.Prefix + "_s3events",
		Description: "Gust bucket notification configurations and the webhook key",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open s3events: %w", err)
	}
	key, err := loadWebhookKey(ctx, kv)
	if err != nil {
		return nil, fmt.Errorf("open s3events: %w", err)
	}
	return &Service{opts: opts, kv: kv, token: deriveToken(key), log: log.With("component", "s3events")}, nil
}

// Close stops the service: later webhook calls are refused with a
// platform error, so the store keeps its events and retries. It is safe
// to call more than once.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *Service) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// PutBucketNotification replaces bucket's configuration with cfg, as
// PutBucketNotificationConfiguration does: every configuration is
// validated (event types, filters, ids, no overlap) and every function
// must exist and let s3.amazonaws.com invoke it, else nothing is stored
// and the error is S3's InvalidArgument. An empty configuration removes
// the bucket's. It returns what is stored, ids filled in. Idempotent.
func (s *Service) PutBucketNotification(ctx context.Context, bucket string, cfg NotificationConfiguration) (*NotificationConfiguration, error) {
	if !ValidBucketName(bucket) {
		return nil, KindInvalidBucketName.Errorf("The specified bucket is not valid.")
	}
	out, err := s.normalize(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.validateDestinations(ctx, bucket, out.LambdaFunctionConfigurations); err != nil {
		return nil, err
	}
	_, err = natsd.UpdateJSON(ctx, s.kv, bucketPrefix+bucket, func(*NotificationConfiguration) (*NotificationConfiguration, error) {
		if len(out.LambdaFunctionConfigurations) == 0 {
			return nil, nil
		}
		return out, nil
	})
	if err != nil {
		return nil, fmt.Errorf("put notification of %s: %w", bucket, err)
	}
	s.log.Info("bucket notification configured", "bucket", bucket, "configurations", len(out.LambdaFunctionConfigurations))
	return out, nil
}

// GetBucketNotification returns bucket's configuration; a bucket without
// one has an empty configuration, as S3 answers.
func (s *Service) GetBucketNotification(ctx context.Context, bucket string) (*NotificationConfiguration, error) {
	if !ValidBucketName(bucket) {
		return nil, KindInvalidBucketName.Errorf("The specified bucket is not valid.")
	}
	cfg, _, err := natsd.GetJSON[NotificationConfiguration](ctx, s.kv, bucketPrefix+bucket)
	if err != nil {
		return nil, fmt.Errorf("get notification of %s: %w", bucket, err)
	}
	if cfg == nil {
		cfg = &NotificationConfiguration{}
	}
	if cfg.LambdaFunctionConfigurations == nil {
		cfg.LambdaFunctionConfigurations = []LambdaFunctionConfiguration{}
	}
	return cfg, nil
}

// Stats counts this node's webhook deliveries since it started.
type Stats struct {
	Notifications uint64 `json:"Notifications"` // records received
	Invocations   uint64 `json:"Invocations"`   // Event invocations queued
	Refused       uint64 `json:"Refused"`       // not invoked: the function's policy does not allow s3.amazonaws.com
	Failed        uint64 `json:"Failed"`        // not invoked: the invoke service refused (say, the function is gone)
	Unsupported   uint64 `json:"Unsupported"`   // records of events S3 has no name for
}

type counters struct {
	notifications, invocations, refused, failed, unsupported atomic.Uint64
}

// Stats returns this node's counters.
func (s *Service) Stats() Stats {
	return Stats{
		Notifications: s.stats.notifications.Load(),
		Invocations:   s.stats.invocations.Load(),
		Refused:       s.stats.refused.Load(),
		Failed:        s.stats.failed.Load(),
		Unsupported:   s.stats.unsupported.Load(),
	}
}
