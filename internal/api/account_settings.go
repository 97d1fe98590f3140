package api

import (
	"net/http"

	"gust/internal/lambda"
)

type accountSettingsOutput struct {
	AccountLimit struct {
		TotalCodeSize                  int64 `json:"TotalCodeSize"`
		CodeSizeUnzipped               int64 `json:"CodeSizeUnzipped"`
		CodeSizeZipped                 int64 `json:"CodeSizeZipped"`
		ConcurrentExecutions           int   `json:"ConcurrentExecutions"`
		UnreservedConcurrentExecutions int   `json:"UnreservedConcurrentExecutions"`
	} `json:"AccountLimit"`
	AccountUsage struct {
		TotalCodeSize int64 `json:"TotalCodeSize"`
		FunctionCount int   `json:"FunctionCount"`
	} `json:"AccountUsage"`
}

func (a *API) getAccountSettings(w http.ResponseWriter, r *http.Request, _ []byte) error {
	fns, err := a.opts.Store.ListFunctions(r.Context())
	if err != nil {
		return err
	}
	reserved, err := a.opts.Store.ListConcurrency(r.Context())
	if err != nil {
		return err
	}
	var out accountSettingsOutput
	out.AccountLimit.TotalCodeSize = lambda.MaxTotalCodeBytes
	out.AccountLimit.CodeSizeUnzipped = lambda.MaxUnzippedCodeBytes
	out.AccountLimit.CodeSizeZipped = lambda.MaxZippedCodeBytes
	out.AccountLimit.ConcurrentExecutions = a.opts.MaxConcurrency
	out.AccountLimit.UnreservedConcurrentExecutions = a.opts.MaxConcurrency - reservedTotal(reserved)
	out.AccountUsage.FunctionCount = len(fns)
	for _, fn := range fns {
		out.AccountUsage.TotalCodeSize += fn.CodeSize
	}
	return writeJSON(w, http.StatusOK, out)
}
