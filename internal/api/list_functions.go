package api

import (
	"encoding/base64"
	"net/http"
	"sort"
	"strconv"

	"gust/internal/lambda"
)

type listFunctionsOutput struct {
	Functions  []functionConfiguration `json:"Functions"`
	NextMarker string                  `json:"NextMarker,omitempty"`
}

// listFunctions pages by name. The marker is the base64 of the last name
// returned; NextMarker is left out on the last page, as paginators need.
func (a *API) listFunctions(w http.ResponseWriter, r *http.Request, _ []byte) error {
	q := r.URL.Query()
	limit := lambda.MaxListFunctionsPage
	if s := q.Get("MaxItems"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return lambda.KindInvalidParameterValue.Errorf("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000, inclusive", s)
		}
		limit = min(n, lambda.MaxListFunctionsPage)
	}
	after := ""
	if m := q.Get("Marker"); m != "" {
		b, err := base64.RawURLEncoding.DecodeString(m)
		if err != nil {
			return lambda.KindInvalidParameterValue.Errorf("Invalid marker: %s", m)
		}
		after = string(b)
	}
	fns, err := a.opts.Store.ListFunctions(r.Context())
	if err != nil {
		return err
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	start := sort.Search(len(fns), func(i int) bool { return fns[i].Name > after })
	end := min(start+limit, len(fns))
	out := listFunctionsOutput{Functions: make([]functionConfiguration, 0, end-start)}
	for _, fn := range fns[start:end] {
		out.Functions = append(out.Functions, a.configuration(fn, false))
	}
	if end < len(fns) {
		out.NextMarker = base64.RawURLEncoding.EncodeToString([]byte(fns[end-1].Name))
	}
	return writeJSON(w, http.StatusOK, out)
}
