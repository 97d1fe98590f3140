package esm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/invoke"
	"gust/internal/lambda"
	"gust/internal/natsd"
)

// Invoker runs the synchronous invocations a poller makes; invoke.Service
// implements it.
type Invoker interface {
	Invoke(ctx context.Context, req invoke.Request) (*invoke.Response, error)
}

// Functions reads function versions and aliases, to check the function a
// mapping names.
type Functions interface {
	// GetFunction returns one version, or an error matching
	// store.ErrNotFound.
	GetFunction(ctx context.Context, name, version string) (*lambda.Function, error)
	// GetAlias returns one alias of a function, or an error matching
	// store.ErrNotFound.
	GetAlias(ctx context.Context, name, alias string) (*lambda.Alias, error)
}

// FailureQueue stores on-failure records in Gust queues named by SQS ARNs;
// asyncq implements it.
type FailureQueue interface {
	SendRecord(ctx context.Context, queueARN string, body []byte, requestID, function string) error
}

// Options configure Open.
type Options struct {
	JS        jetstream.JetStream // required
	Identity  lambda.Identity
	Invoker   Invoker   // required
	Functions Functions // required
	Failures  FailureQueue
	// Prefix names the bucket "<Prefix>_esm". Default "gust".
	Prefix   string
	Replicas int // of the bucket when Open creates it; default 1
	// NodeID names this node's consumers and stream leases; it should
	// stay the same across restarts of one node. Default: random.
	NodeID string
	Logger *slog.Logger
}

// Service is the event source mapping service of one node.
type Service struct {
	opts Options
	id   lambda.Identity
	kv   jetstream.KeyValue
	log  *slog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	runners map[string]*runner // by mapping UUID
}

// Open binds to the bucket (creating it if need be). Pollers start with
// Start.
func Open(ctx context.Context, opts Options) (*Service, error) {
	if opts.JS == nil || opts.Invoker == nil || opts.Functions == nil {
		return nil, errors.New("open esm: JS, Invoker and Functions are required")
	}
	if opts.Prefix == "" {
		opts.Prefix = "gust"
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.NodeID == "" {
		opts.NodeID = uuid.NewString()
	}
	kv, err := natsd.BindKeyValue(ctx, opts.JS, jetstream.KeyValueConfig{
		Bucket:      opts.Prefix + "_esm",
		Description: "Gust event source mappings, broker sources and stream checkpoints",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open esm: %w", err)
	}
	s := &Service{opts: opts, id: opts.Identity, kv: kv,
		log: opts.Logger.With("component", "esm"), runners: make(map[string]*runner)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Identity is the region and account of the ARNs the service makes.
func (s *Service) Identity() lambda.Identity { return s.id }
