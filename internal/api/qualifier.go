package api

import (
	"context"
	"errors"

	"gust/internal/lambda"
	"gust/internal/store"
)

// qualifierTarget checks that qualifier ($LATEST, a version number or an
// alias name; "" means $LATEST) exists for function name, and returns the
// version it names now (an alias's primary version), as stored. The error
// is Lambda's ResourceNotFoundException naming the qualified ARN.
func (a *API) qualifierTarget(ctx context.Context, name, qualifier string) (*lambda.Function, error) {
	if qualifier == "" {
		qualifier = lambda.LatestVersion
	}
	version := qualifier
	if !lambda.IsVersion(qualifier) {
		al, err := a.opts.Store.GetAlias(ctx, name, qualifier)
		if errors.Is(err, store.ErrNotFound) {
			return nil, lambda.FunctionNotFound(a.id.QualifiedARN(name, qualifier))
		}
		if err != nil {
			return nil, err
		}
		version = al.FunctionVersion
	}
	fn, err := a.opts.Store.GetFunction(ctx, name, version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, lambda.FunctionNotFound(a.id.QualifiedARN(name, qualifier))
	}
	return fn, err
}
