package api

import (
	"context"
	"errors"

	"gust/internal/lambda"
	"gust/internal/store"
)

// qualifierTarget checks that qualifier ($LATEST, a version number or an
// alias name; "" means $LATEST) exists for function name, and returns the
// version it names now (an alias's primary version). The error is Lambda's
// ResourceNotFoundException naming the qualified ARN.
func (a *API) qualifierTarget(ctx context.Context, name, qualifier string) (version string, err error) {
	if qualifier == "" {
		qualifier = lambda.LatestVersion
	}
	version = qualifier
	if !lambda.IsVersion(qualifier) {
		al, err := a.opts.Store.GetAlias(ctx, name, qualifier)
		if errors.Is(err, store.ErrNotFound) {
			return "", lambda.FunctionNotFound(a.id.QualifiedARN(name, qualifier))
		}
		if err != nil {
			return "", err
		}
		version = al.FunctionVersion
	}
	if _, err := a.opts.Store.GetFunction(ctx, name, version); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", lambda.FunctionNotFound(a.id.QualifiedARN(name, qualifier))
		}
		return "", err
	}
	return version, nil
}
