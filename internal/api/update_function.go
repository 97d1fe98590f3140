package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
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
		fn, _, err := a.target(ctx, r)
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
	if in.Publish {
		if fn, err = a.publish(ctx, name, publishVersionInput{}); err != nil {
			return err
		}
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
	if in.Role != nil {
		if err := a.checkRole(r.Context(), *in.Role); err != nil {
			return err
		}
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
	a.changed(r.Context(), name)
	return fn, nil
}

// changed drops cached state of a function and stops its warm
// environments that run a revision no longer stored (all of them after
// a delete). Other nodes do the same through the store's watch.
func (a *API) changed(ctx context.Context, name string) {
	a.opts.Invoker.Forget(name)
	live, err := a.opts.Store.LiveRevisions(ctx, name)
	if err != nil {
		a.logger.Warn("read revisions after a change; the store watch will retry", "function", name, "err", err)
		return
	}
	if len(live) == 0 {
		live = nil
	}
	a.opts.Environments.Invalidate(name, live)
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
		return a.deleteVersion(w, r, name, version)
	}
	err = a.opts.Store.DeleteFunction(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return lambda.FunctionNotFound(a.id.FunctionARN(name))
	}
	if err != nil {
		return err
	}
	a.changed(r.Context(), name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// hasQualifier reports whether a FunctionName label carries a qualifier.
func hasQualifier(label string) bool {
	ref, err := lambda.ParseFunctionRef(label)
	return err == nil && ref.Qualifier != ""
}

// deleteVersion is DeleteFunction with a version qualifier: it removes
// that version only, unless an alias still routes to it.
func (a *API) deleteVersion(w http.ResponseWriter, r *http.Request, name, version string) error {
	if !lambda.IsVersion(version) {
		return lambda.KindInvalidParameterValue.Errorf("Deletion of aliases is not supported. Use DeleteAlias to delete alias %s.", a.id.QualifiedARN(name, version))
	}
	err := a.opts.Store.DeleteVersion(r.Context(), name, version)
	var inUse *store.VersionInUseError
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, ferr := a.opts.Store.GetFunction(r.Context(), name, lambda.LatestVersion); errors.Is(ferr, store.ErrNotFound) {
			return lambda.FunctionNotFound(a.id.FunctionARN(name))
		}
		return lambda.FunctionNotFound(a.id.QualifiedARN(name, version))
	case errors.As(err, &inUse):
		return lambda.KindResourceConflict.Errorf("Unable to delete version because the following aliases reference it: [%s]", strings.Join(inUse.Aliases, ", "))
	case err != nil:
		return err
	}
	a.changed(r.Context(), name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
