package api

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"sort"
	"strconv"

	"gust/internal/lambda"
	"gust/internal/store"
)

// VersionStore is the storage behind the version operations.
type VersionStore interface {
	PublishVersion(ctx context.Context, name, description string, check func(latest *lambda.Function) error) (*lambda.Function, bool, error)
	ListVersions(ctx context.Context, name string) ([]*lambda.Function, error)
	DeleteVersion(ctx context.Context, name, version string) error
}

func (a *API) versionRoutes() {
	v := "/2015-03-31/functions/{name}/versions"
	a.handle("POST "+v, a.operation("lambda", "PublishVersion", maxControlBody, tooLarge("PublishVersion", maxControlBody), a.publishVersion))
	a.handle("GET "+v, a.operation("lambda", "ListVersionsByFunction", maxControlBody, tooLarge("ListVersionsByFunction", maxControlBody), a.listVersionsByFunction))
}

type publishVersionInput struct {
	CodeSha256  string `json:"CodeSha256"`
	Description string `json:"Description"`
	RevisionId  string `json:"RevisionId"`
}

func (a *API) publishVersion(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in publishVersionInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	name, err := a.unqualifiedFunction(r)
	if err != nil {
		return err
	}
	if len(in.Description) > lambda.MaxDescriptionLength {
		return lambda.KindValidation.Errorf("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", lambda.MaxDescriptionLength)
	}
	fn, err := a.publish(r.Context(), name, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a.configuration(fn, true))
}

// publish freezes $LATEST of name as a version (or returns the last one
// if nothing changed since), checking the CodeSha256 and RevisionId
// preconditions against $LATEST.
func (a *API) publish(ctx context.Context, name string, in publishVersionInput) (*lambda.Function, error) {
	fn, _, err := a.opts.Store.PublishVersion(ctx, name, in.Description, func(latest *lambda.Function) error {
		if in.CodeSha256 != "" && in.CodeSha256 != latest.CodeSha256 {
			return lambda.KindInvalidParameterValue.Errorf("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", in.CodeSha256, latest.CodeSha256)
		}
		return checkRevision(latest, in.RevisionId)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, lambda.FunctionNotFound(a.id.FunctionARN(name))
	case errors.Is(err, store.ErrConflict):
		return nil, lambda.KindResourceConflict.Errorf("The operation cannot be performed at this time. An update is in progress for resource: %s", a.id.FunctionARN(name))
	}
	return fn, err
}

// unqualifiedFunction resolves the {name} label of an operation that acts
// on a function as a whole; a qualifier in it is refused.
func (a *API) unqualifiedFunction(r *http.Request) (string, error) {
	ref, err := lambda.ParseFunctionRef(r.PathValue("name"))
	if err != nil {
		return "", err
	}
	if !a.id.Owns(ref) {
		return "", lambda.FunctionNotFound(a.id.QualifiedARN(ref.Name, ref.Qualifier))
	}
	if ref.Qualifier != "" {
		return "", lambda.KindInvalidParameterValue.Errorf("Unsupported qualifier in function name: %s. This operation acts on the function, not a version or alias.", ref.Qualifier)
	}
	return ref.Name, nil
}

type listVersionsOutput struct {
	Versions   []functionConfiguration `json:"Versions"`
	NextMarker string                  `json:"NextMarker,omitempty"`
}

// listVersionsByFunction pages $LATEST then 1, 2, …; the marker is the
// base64 of the last version returned.
func (a *API) listVersionsByFunction(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := a.unqualifiedFunction(r)
	if err != nil {
		return err
	}
	page, err := parsePage(r, lambda.MaxListFunctionsPage)
	if err != nil {
		return err
	}
	versions, err := a.opts.Store.ListVersions(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return lambda.FunctionNotFound(a.id.FunctionARN(name))
	}
	if err != nil {
		return err
	}
	// The marker is a version; resume after it in list order.
	start := 0
	if page.after != "" {
		start = sort.Search(len(versions), func(i int) bool { return versionOrder(versions[i].Version) > versionOrder(page.after) })
	}
	end := min(start+page.limit, len(versions))
	out := listVersionsOutput{Versions: make([]functionConfiguration, 0, end-start)}
	for _, fn := range versions[start:end] {
		out.Versions = append(out.Versions, a.configuration(fn, false))
	}
	if end < len(versions) {
		out.NextMarker = encodeMarker(versions[end-1].Version)
	}
	return writeJSON(w, http.StatusOK, out)
}

// versionOrder sorts $LATEST before every numbered version.
func versionOrder(v string) int {
	if v == lambda.LatestVersion {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// page is a list request's Marker and MaxItems.
type page struct {
	after string // decoded marker: resume after this key ("" = start)
	limit int
}

// parsePage reads Marker (base64 of the last key returned) and MaxItems
// (1–10000, capped at pageMax as the service caps it).
func parsePage(r *http.Request, pageMax int) (page, error) {
	q := r.URL.Query()
	p := page{limit: pageMax}
	if s := q.Get("MaxItems"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return page{}, lambda.KindInvalidParameterValue.Errorf("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000, inclusive", s)
		}
		p.limit = min(n, pageMax)
	}
	if m := q.Get("Marker"); m != "" {
		b, err := base64.RawURLEncoding.DecodeString(m)
		if err != nil || len(b) == 0 {
			return page{}, lambda.KindInvalidParameterValue.Errorf("Invalid marker: %s", m)
		}
		p.after = string(b)
	}
	return p, nil
}

func encodeMarker(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }
