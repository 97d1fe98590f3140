package esm

import (
	"context"
	"errors"

	"gust/internal/brokers"
	"gust/internal/lambda"
)

// runQueue polls q for mapping m (SQS semantics) until ctx ends, or until
// q fails, returning its error.
func (s *Service) runQueue(ctx context.Context, m *lambda.EventSourceMapping, src *Source, q brokers.Queue, st *status) error {
	return errors.New("not yet")
}
