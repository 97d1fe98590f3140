package api

import (
	"encoding/base64"
	"net/http"
	"sort"
	"strconv"

	"gust/internal/lambda"
)

type listEventInvokeConfigsOutput struct {
	FunctionEventInvokeConfigs []eventInvokeConfigOutput `json:"FunctionEventInvokeConfigs"`
	NextMarker                 string                    `json:"NextMarker,omitempty"`
}

// listFunctionEventInvokeConfigs pages through a function's configs in
// lambda.CompareQualifiers order. The marker is the base64 of the last
// qualifier returned; NextMarker is left out on the last page, as
// paginators need. A qualifier in the FunctionName is ignored: the list is
// always the function's.
func (a *API) listFunctionEventInvokeConfigs(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := lambda.ParseFunctionRef(r.PathValue("name"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit := lambda.MaxEventInvokeConfigPage
	if s := q.Get("MaxItems"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return lambda.KindInvalidParameterValue.Errorf("Value '%s' at 'maxItems' is not an integer", s)
		}
		if v := lambda.RangeViolation("maxItems", n, 1, lambda.MaxEventInvokeConfigPage); v != nil {
			return lambda.ValidationFailed(*v)
		}
		limit = n
	}
	after := ""
	if m := q.Get("Marker"); m != "" {
		b, err := base64.RawURLEncoding.DecodeString(m)
		if err != nil || !lambda.ValidQualifier(string(b)) {
			return lambda.KindInvalidParameterValue.Errorf("Invalid marker: %s", m)
		}
		after = string(b)
	}
	if !a.id.Owns(ref) {
		return lambda.FunctionDoesNotExist()
	}
	ctx := r.Context()
	if err := a.requireQualifier(ctx, ref.Name, lambda.LatestVersion); err != nil {
		return err
	}
	cfgs, err := a.opts.Store.ListEventInvokeConfigs(ctx, ref.Name)
	if err != nil {
		return err
	}
	start := 0
	if after != "" {
		start = sort.Search(len(cfgs), func(i int) bool { return lambda.CompareQualifiers(cfgs[i].Qualifier, after) > 0 })
	}
	end := min(start+limit, len(cfgs))
	out := listEventInvokeConfigsOutput{FunctionEventInvokeConfigs: make([]eventInvokeConfigOutput, 0, end-start)}
	for _, c := range cfgs[start:end] {
		out.FunctionEventInvokeConfigs = append(out.FunctionEventInvokeConfigs, a.eventInvokeConfigOut(c))
	}
	if end < len(cfgs) {
		out.NextMarker = base64.RawURLEncoding.EncodeToString([]byte(cfgs[end-1].Qualifier))
	}
	return writeJSON(w, http.StatusOK, out)
}
