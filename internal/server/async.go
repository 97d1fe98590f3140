package server

import (
	"context"
	"errors"

	"gust/internal/asyncq"
	"gust/internal/lambda"
	"gust/internal/store"
)

// asyncSettings reads what the async queue obeys from the store.
type asyncSettings struct{ store *store.Store }

var _ asyncq.Settings = asyncSettings{}

func (s asyncSettings) EventInvokeConfig(ctx context.Context, function, qualifier string) (*lambda.EventInvokeConfig, error) {
	cfg, err := s.store.GetEventInvokeConfig(ctx, function, qualifier)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return cfg, err
}

func (s asyncSettings) ReservedConcurrency(ctx context.Context, function string) (int, bool, error) {
	return s.store.GetConcurrency(ctx, function)
}

func (s asyncSettings) DeadLetterTarget(ctx context.Context, function, version string) (string, error) {
	fn, err := s.store.GetFunction(ctx, function, version)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return fn.DeadLetterTarget, nil
}
