package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"gust/internal/codecache"
	"gust/internal/lambda"
	"gust/internal/store"
)

type updateFunctionCodeInput struct {
	codeInput
	Publish       bool     `json:"Publish"`
	DryRun        bool     `json:"DryRun"`
	RevisionId    string   `json:"RevisionId"`
	Architectures []string `json:"Architectures"`
}

func (a *API) updateFunctionCode(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, version, err := a.nameAndVersion(r)
	if err != nil {
		return err
	}
	if version != lambda.LatestVersion {
		return lambda.KindInvalidParameterValue.Errorf("Only $LATEST can be updated")
	}
	var in updateFunctionCodeInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	zip, err := in.zip()
	if err != nil {
		return err
	}
	info, err := codecache.Inspect(zip)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if in.DryRun {
		fn, err := a.target(ctx, r)
		if err != nil {
			return err
		}
		if err := checkRevision(fn, in.RevisionId); err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, a.configuration(fn, true))
	}
	if err := a.opts.Store.PutCode(ctx, info.Sha256, zip); err != nil {
		return err
	}
	fn, err := a.mutate(r, name, in.RevisionId, func(fn *lambda.Function) error {
		if len(in.Architectures) > 0 {
			fn.Architectures = in.Architectures
		}
		fn.CodeSha256, fn.CodeSize, fn.CodeUnzipped = info.Sha256, info.Size, info.Unzipped
		return fn.Validate()
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.configuration(fn, true))
}

func (a *API) updateFunctionConfiguration(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, version, err := a.nameAndVersion(r)
	if err != nil {
		return err
	}
	if version != lambda.LatestVersion {
		return lambda.KindInvalidParameterValue.Errorf("Only $LATEST can be updated")
	}
	var in functionInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	if err := in.validateUnsupported(); err != nil {
		return err
	}
	fn, err := a.mutate(r, name, in.RevisionId, func(fn *lambda.Function) error {
		in.apply(fn)
		return fn.Validate()
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.configuration(fn, true))
}

// mutate applies change to $LATEST of name under the RevisionId
// precondition, stamps a new revision, and stops environments running the
// old one.
func (a *API) mutate(r *http.Request, name, revision string, change func(*lambda.Function) error) (*lambda.Function, error) {
	fn, err := a.opts.Store.UpdateFunction(r.Context(), name, func(fn *lambda.Function) error {
		if err := checkRevision(fn, revision); err != nil {
			return err
		}
		if err := change(fn); err != nil {
			return err
		}
		fn.LastModified = time.Now()
		fn.RevisionID = uuid.NewString()
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, lambda.FunctionNotFound(a.id.FunctionARN(name))
	case errors.Is(err, store.ErrConflict):
		return nil, lambda.KindResourceConflict.Errorf("The operation cannot be performed at this time. An update is in progress for resource: %s", a.id.FunctionARN(name))
	case err != nil:
		return nil, err
	}
	a.changed(name, fn.RevisionID)
	return fn, nil
}

// changed drops cached state of a function and its warm environments that
// do not run revision keep ("" after a delete).
func (a *API) changed(name, keep string) {
	a.opts.Invoker.Forget(name)
	a.opts.Environments.Invalidate(name, keep)
}

func checkRevision(fn *lambda.Function, revision string) error {
	if revision != "" && revision != fn.RevisionID {
		return lambda.RevisionMismatch()
	}
	return nil
}

func (a *API) deleteFunction(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, version, err := a.nameAndVersion(r)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("Qualifier") == lambda.LatestVersion || (version == lambda.LatestVersion && r.PathValue("name") != name && hasQualifier(r.PathValue("name"))) {
		return lambda.KindInvalidParameterValue.Errorf("$LATEST version cannot be deleted without deleting the function.")
	}
	if version != lambda.LatestVersion {
		return lambda.FunctionNotFound(a.id.QualifiedARN(name, version))
	}
	err = a.opts.Store.DeleteFunction(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return lambda.FunctionNotFound(a.id.FunctionARN(name))
	}
	if err != nil {
		return err
	}
	a.changed(name, "")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// hasQualifier reports whether a FunctionName label carries a qualifier.
func hasQualifier(label string) bool {
	ref, err := lambda.ParseFunctionRef(label)
	return err == nil && ref.Qualifier != ""
}
