package api

import (
	"context"
	"errors"
	"net/http"

	"gust/internal/lambda"
	"gust/internal/store"
)

// target resolves the {name} path label and ?Qualifier= of a request to a
// function name and version, and loads that version.
func (a *API) target(ctx context.Context, r *http.Request) (*lambda.Function, error) {
	name, version, err := a.nameAndVersion(r)
	if err != nil {
		return nil, err
	}
	fn, err := a.opts.Store.GetFunction(ctx, name, version)
	if errors.Is(err, store.ErrNotFound) {
		q := version
		if q == lambda.LatestVersion && r.URL.Query().Get("Qualifier") == "" {
			q = ""
		}
		return nil, lambda.FunctionNotFound(a.id.QualifiedARN(name, q))
	}
	return fn, err
}

// nameAndVersion parses the {name} label (any FunctionName form) and the
// Qualifier query parameter. Aliases are not resolved here.
func (a *API) nameAndVersion(r *http.Request) (name, version string, err error) {
	ref, err := lambda.ParseFunctionRef(r.PathValue("name"))
	if err != nil {
		return "", "", err
	}
	q := r.URL.Query().Get("Qualifier")
	if q != "" && ref.Qualifier != "" && q != ref.Qualifier {
		return "", "", lambda.KindInvalidParameterValue.Errorf("The derived qualifier from the function name does not match the specified qualifier.")
	}
	if ref.Qualifier == "" {
		ref.Qualifier = q
	}
	if !a.id.Owns(ref) {
		return "", "", lambda.FunctionNotFound(a.id.QualifiedARN(ref.Name, ref.Qualifier))
	}
	if ref.Qualifier == "" {
		ref.Qualifier = lambda.LatestVersion
	}
	if !lambda.ValidQualifier(ref.Qualifier) {
		return "", "", lambda.KindInvalidParameterValue.Errorf("Invalid qualifier: %s", ref.Qualifier)
	}
	return ref.Name, ref.Qualifier, nil
}

type getFunctionOutput struct {
	Configuration functionConfiguration `json:"Configuration"`
	Code          codeLocation          `json:"Code"`
	Tags          map[string]string     `json:"Tags,omitempty"`
	Concurrency   *concurrencyOutput    `json:"Concurrency,omitempty"`
}

type codeLocation struct {
	RepositoryType string `json:"RepositoryType"`
	Location       string `json:"Location"`
}

func (a *API) getFunction(w http.ResponseWriter, r *http.Request, _ []byte) error {
	fn, err := a.target(r.Context(), r)
	if err != nil {
		return err
	}
	out := getFunctionOutput{
		Configuration: a.configuration(fn, true),
		Code:          codeLocation{RepositoryType: "S3", Location: a.codeURL(r, fn)},
		Tags:          fn.Tags,
	}
	// Reserved concurrency belongs to the function, whatever the qualifier.
	n, ok, err := a.opts.Store.GetConcurrency(r.Context(), fn.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) { // deleted meanwhile: none
		return err
	}
	if ok {
		out.Concurrency = &concurrencyOutput{ReservedConcurrentExecutions: &n}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) getFunctionConfiguration(w http.ResponseWriter, r *http.Request, _ []byte) error {
	fn, err := a.target(r.Context(), r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.configuration(fn, true))
}
