package api

import (
	"context"
	"errors"
	"net/http"

	"gust/internal/lambda"
	"gust/internal/store"
)

// target resolves the {name} path label and ?Qualifier= of a request to a
// function name and version, and loads that version. An alias qualifier
// loads the alias's primary version; invokedARN is the ARN as qualified
// in the request (the alias's ARN for an alias).
func (a *API) target(ctx context.Context, r *http.Request) (fn *lambda.Function, invokedARN string, err error) {
	name, qualifier, err := a.nameAndVersion(r)
	if err != nil {
		return nil, "", err
	}
	fn, err = a.qualifierTarget(ctx, name, qualifier)
	if err != nil {
		if qualifier == lambda.LatestVersion && r.URL.Query().Get("Qualifier") == "" && !hasQualifier(r.PathValue("name")) {
			return nil, "", lambda.FunctionNotFound(a.id.FunctionARN(name))
		}
		return nil, "", err
	}
	invokedARN = a.id.QualifiedARN(name, qualifier)
	if qualifier == lambda.LatestVersion {
		invokedARN = a.id.FunctionARN(name)
	}
	return fn, invokedARN, nil
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
	fn, arn, err := a.target(r.Context(), r)
	if err != nil {
		return err
	}
	conf := a.configuration(fn, true)
	conf.FunctionArn = arn
	out := getFunctionOutput{
		Configuration: conf,
		Code:          codeLocation{RepositoryType: "S3", Location: a.codeURL(r, fn)},
	}
	// Tags belong to the function, whatever the qualifier.
	tags, err := a.opts.Store.GetTags(r.Context(), fn.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if len(tags) > 0 {
		out.Tags = tags
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
	fn, arn, err := a.target(r.Context(), r)
	if err != nil {
		return err
	}
	conf := a.configuration(fn, true)
	conf.FunctionArn = arn
	return writeJSON(w, http.StatusOK, conf)
}
