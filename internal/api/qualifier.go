package api

import (
	"context"
	"errors"

	"gust/internal/lambda"
	"gust/internal/store"
)

// qualifierTarget checks that qualifier ($LATEST, a version number or an
// alias name) exists for function name, and returns the version it names
// now (an alias's primary version). The error is Lambda's
// ResourceNotFoundException naming the qualified ARN.
func (a *API) qualifierTarget(ctx context.Context, name, qualifier string) (version string, err error) {
	if qualifier == "" {
		qualifier = lambda.LatestVersion
	}
	if !lambda.IsVersion(qualifier) {
		return "", lambda.FunctionNotFound(a.id.QualifiedARN(name, qualifier))
	}
	if _, err := a.opts.Store.GetFunction(ctx, name, qualifier); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", lambda.FunctionNotFound(a.id.QualifiedARN(name, qualifier))
		}
		return "", err
	}
	return qualifier, nil
}
