package api

import (
	"errors"
	"net/http"
	"sort"

	"gust/internal/lambda"
	"gust/internal/store"
)

type listFunctionsOutput struct {
	Functions  []functionConfiguration `json:"Functions"`
	NextMarker string                  `json:"NextMarker,omitempty"`
}

// listFunctions pages by name, or with FunctionVersion=ALL by name then
// version ($LATEST first). The marker is the base64 of the last entry's
// "name:version"; NextMarker is left out on the last page, as paginators
// need.
func (a *API) listFunctions(w http.ResponseWriter, r *http.Request, _ []byte) error {
	p, err := parsePage(r, lambda.MaxListFunctionsPage)
	if err != nil {
		return err
	}
	all := false
	switch v := r.URL.Query().Get("FunctionVersion"); v {
	case "":
	case "ALL":
		all = true
	default:
		return lambda.KindValidation.Errorf("1 validation error detected: Value '%s' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]", v)
	}
	fns, err := a.opts.Store.ListFunctions(r.Context())
	if err != nil {
		return err
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	if all {
		var every []*lambda.Function
		for _, fn := range fns {
			versions, err := a.opts.Store.ListVersions(r.Context(), fn.Name)
			if errors.Is(err, store.ErrNotFound) { // deleted meanwhile
				continue
			}
			if err != nil {
				return err
			}
			every = append(every, versions...)
		}
		fns = every
	}
	key := func(fn *lambda.Function) listKey { return listKey{fn.Name, versionOrder(fn.Version)} }
	start := 0
	if p.after != "" {
		after := parseListKey(p.after)
		start = sort.Search(len(fns), func(i int) bool { return after.before(key(fns[i])) })
	}
	end := min(start+p.limit, len(fns))
	out := listFunctionsOutput{Functions: make([]functionConfiguration, 0, end-start)}
	for _, fn := range fns[start:end] {
		out.Functions = append(out.Functions, a.configuration(fn, false))
	}
	if end < len(fns) {
		last := fns[end-1]
		out.NextMarker = encodeMarker(last.Name + ":" + last.Version)
	}
	return writeJSON(w, http.StatusOK, out)
}

// listKey orders ListFunctions entries: by name, then $LATEST before the
// numbered versions.
type listKey struct {
	name    string
	version int
}

func (k listKey) before(o listKey) bool {
	return k.name < o.name || (k.name == o.name && k.version < o.version)
}

// parseListKey reads a marker's "name:version"; a bare name (markers from
// before versions were listed) resumes after the name's $LATEST.
func parseListKey(s string) listKey {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return listKey{s[:i], versionOrder(s[i+1:])}
		}
	}
	return listKey{s, 0}
}
