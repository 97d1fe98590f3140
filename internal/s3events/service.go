package s3events

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/iam/policy"
	"gust/internal/invoke"
	"gust/internal/lambda"
)

// Invoker queues Event invocations; invoke.Service implements it.
type Invoker interface {
	Invoke(ctx context.Context, req invoke.Request) (*invoke.Response, error)
}

// Policies reads a function's resource-based policy (nil when none);
// store.Store implements it.
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
	Logger *slog.Logger
}

// Service is the object-store notification service of one node.
type Service struct {
	opts Options
}

// Open binds to the bucket, creating it if need be.
func Open(ctx context.Context, opts Options) (*Service, error) {
	if opts.JS == nil || opts.Invoker == nil || opts.Policies == nil {
		return nil, errors.New("open s3events: JS, Invoker and Policies are required")
	}
	return &Service{opts: opts}, nil
}

// Close stops the service.
func (s *Service) Close() error { return nil }
