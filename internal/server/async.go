package server

import (
	"context"
	"errors"

	"gust/internal/asyncq"
	"gust/internal/envpool"
	"gust/internal/lambda"
	"gust/internal/store"
)

// asyncSettings reads what the async queue obeys: configs from the store,
// reservations from the pool's in-memory copy (kept by the store watch).
type asyncSettings struct {
	store *store.Store
	pool  *envpool.Manager
}

var _ asyncq.Settings = asyncSettings{}

func (s asyncSettings) EventInvokeConfig(ctx context.Context, function, qualifier string) (*lambda.EventInvokeConfig, error) {
	cfg, err := s.store.GetEventInvokeConfig(ctx, function, qualifier)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return cfg, err
}

func (s asyncSettings) ReservedConcurrency(function string) (int, bool) {
	return s.pool.Reserved(function)
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
