package api

import (
	"context"

	"gust/internal/lambda"
)

// checkRole refuses an execution role that does not exist, as Lambda
// refuses one it cannot assume. Without an IAM store (a test API) every
// role is accepted.
func (a *API) checkRole(ctx context.Context, role string) error {
	if a.opts.IAM == nil {
		return nil
	}
	ok, err := a.opts.IAM.RoleExists(ctx, role)
	if err != nil {
		return err
	}
	if !ok {
		return lambda.KindInvalidParameterValue.Errorf("The role defined for the function cannot be assumed by Lambda.")
	}
	return nil
}
