package esm

import (
	"context"
	"errors"

	"gust/internal/brokers"
	"gust/internal/lambda"
)

// openStreamFunc opens a reader of the mapping's stream from start.
type openStreamFunc func(ctx context.Context, start brokers.StartAt) (brokers.Stream, error)

// runStream polls a stream source for mapping m (Kinesis semantics) until
// ctx ends, or until reading fails, returning the error.
func (s *Service) runStream(ctx context.Context, m *lambda.EventSourceMapping, src *Source, open openStreamFunc, st *status) error {
	return errors.New("not yet")
}

// deleteCheckpoints removes the checkpoints of a deleted mapping.
func (s *Service) deleteCheckpoints(ctx context.Context, uuid string) {}
