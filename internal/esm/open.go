package esm

import (
	"context"
	"errors"

	"gust/internal/brokers"
	"gust/internal/lambda"
)

// openQueue connects to a queue source for mapping m.
func (s *Service) openQueue(ctx context.Context, m *lambda.EventSourceMapping, src *Source) (brokers.Queue, error) {
	return nil, errors.New("not yet")
}

// openStream opens a reader of a stream source from start.
func (s *Service) openStream(ctx context.Context, src *Source, start brokers.StartAt) (brokers.Stream, error) {
	return nil, errors.New("not yet")
}
