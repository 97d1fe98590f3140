package api

import (
	"context"
	"net/http"
	"time"

	"gust/internal/lambda"
	"gust/internal/usage"
)

// UsageQuery totals metered invocations for GET /_gust/v1/usage, used by
// `gust usage`. It is not part of AWS's API (AWS reports usage through
// Cost Explorer and CloudWatch), so it lives under /_gust/.
type UsageQuery interface {
	// Query totals the invocations that started at or after since (zero:
	// all kept) by usage.ByFunction or usage.ByDay. No invocations is an
	// empty result, not an error.
	Query(ctx context.Context, since time.Time, by string) ([]usage.Row, error)
}

// usageAnswer is the body of GET /_gust/v1/usage.
type usageAnswer struct {
	Since *time.Time  `json:"Since,omitempty"` // absent: everything kept
	By    string      `json:"By"`
	Rows  []usage.Row `json:"Rows"`
}

// getUsage serves GET /_gust/v1/usage?since=<RFC3339>&by=function|day.
func (a *API) getUsage(w http.ResponseWriter, r *http.Request, _ []byte) error {
	if a.opts.Usage == nil {
		return lambda.KindServiceUnavailable.Errorf("Usage is not metered on this server.")
	}
	q := r.URL.Query()
	ans := usageAnswer{By: q.Get("by")}
	if ans.By == "" {
		ans.By = usage.ByFunction
	}
	if !usage.ValidGrouping(ans.By) {
		return lambda.KindInvalidParameterValue.Errorf("by must be %s or %s, not %q.", usage.ByFunction, usage.ByDay, ans.By)
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return lambda.KindInvalidParameterValue.Errorf("since must be an RFC 3339 time such as 2025-08-01T00:00:00Z, not %q.", v)
		}
		since = t.UTC()
		ans.Since = &since
	}
	rows, err := a.opts.Usage.Query(r.Context(), since, ans.By)
	if err != nil {
		return err
	}
	ans.Rows = rows
	if ans.Rows == nil {
		ans.Rows = []usage.Row{}
	}
	return writeJSON(w, http.StatusOK, ans)
}
