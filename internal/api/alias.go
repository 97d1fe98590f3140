package api

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"github.com/google/uuid"

	"gust/internal/lambda"
	"gust/internal/store"
)

// AliasStore is the storage behind the alias operations.
type AliasStore interface {
	CreateAlias(ctx context.Context, a *lambda.Alias) error
	GetAlias(ctx context.Context, name, alias string) (*lambda.Alias, error)
	UpdateAlias(ctx context.Context, name, alias string, mutate func(a *lambda.Alias) error) (*lambda.Alias, error)
	DeleteAlias(ctx context.Context, name, alias string) error
	ListAliases(ctx context.Context, name string) ([]*lambda.Alias, error)
}

func (a *API) aliasRoutes() {
	al := "/2015-03-31/functions/{name}/aliases"
	a.handle("POST "+al, a.operation("lambda", "CreateAlias", maxControlBody, tooLarge("CreateAlias", maxControlBody), a.createAlias))
	a.handle("GET "+al, a.operation("lambda", "ListAliases", maxControlBody, tooLarge("ListAliases", maxControlBody), a.listAliases))
	a.handle("GET "+al+"/{alias}", a.operation("lambda", "GetAlias", maxControlBody, tooLarge("GetAlias", maxControlBody), a.getAlias))
	a.handle("PUT "+al+"/{alias}", a.operation("lambda", "UpdateAlias", maxControlBody, tooLarge("UpdateAlias", maxControlBody), a.updateAlias))
	a.handle("DELETE "+al+"/{alias}", a.operation("lambda", "DeleteAlias", maxControlBody, tooLarge("DeleteAlias", maxControlBody), a.deleteAlias))
}

// aliasConfiguration is Lambda's AliasConfiguration shape.
type aliasConfiguration struct {
	AliasArn        string         `json:"AliasArn"`
	Name            string         `json:"Name"`
	FunctionVersion string         `json:"FunctionVersion"`
	Description     string         `json:"Description"`
	RoutingConfig   *routingConfig `json:"RoutingConfig,omitempty"`
	RevisionId      string         `json:"RevisionId"`
}

type routingConfig struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights"`
}

func (a *API) aliasOut(al *lambda.Alias) aliasConfiguration {
	out := aliasConfiguration{
		AliasArn:        a.id.QualifiedARN(al.Function, al.Name),
		Name:            al.Name,
		FunctionVersion: al.FunctionVersion,
		Description:     al.Description,
		RevisionId:      al.RevisionID,
	}
	if len(al.Weights) > 0 {
		out.RoutingConfig = &routingConfig{AdditionalVersionWeights: al.Weights}
	}
	return out
}

type aliasInput struct {
	Name            string         `json:"Name"`
	FunctionVersion *string        `json:"FunctionVersion"`
	Description     *string        `json:"Description"`
	RoutingConfig   *routingConfig `json:"RoutingConfig"`
	RevisionId      string         `json:"RevisionId"`
}

func (a *API) createAlias(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in aliasInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	name, err := a.unqualifiedFunction(r)
	if err != nil {
		return err
	}
	if err := lambda.ValidateAliasName(in.Name); err != nil {
		return err
	}
	if in.FunctionVersion == nil || *in.FunctionVersion == "" {
		return lambda.KindValidation.Errorf("1 validation error detected: Value null at 'functionVersion' failed to satisfy constraint: Member must not be null")
	}
	al := &lambda.Alias{Function: name, Name: in.Name, FunctionVersion: *in.FunctionVersion, RevisionID: uuid.NewString()}
	if in.Description != nil {
		al.Description = *in.Description
	}
	if in.RoutingConfig != nil {
		al.Weights = in.RoutingConfig.AdditionalVersionWeights
	}
	if err := a.checkAliasTargets(r.Context(), al); err != nil {
		return err
	}
	switch err := a.opts.Store.CreateAlias(r.Context(), al); {
	case errors.Is(err, store.ErrExists):
		return lambda.KindResourceConflict.Errorf("Alias already exists: %s", a.id.QualifiedARN(name, al.Name))
	case errors.Is(err, store.ErrNotFound):
		return lambda.FunctionNotFound(a.id.FunctionARN(name))
	case err != nil:
		return err
	}
	a.opts.Invoker.Forget(name)
	return writeJSON(w, http.StatusCreated, a.aliasOut(al))
}

// checkAliasTargets validates an alias's description and routing and
// checks that every version it names exists.
func (a *API) checkAliasTargets(ctx context.Context, al *lambda.Alias) error {
	if len(al.Description) > lambda.MaxDescriptionLength {
		return lambda.KindValidation.Errorf("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", lambda.MaxDescriptionLength)
	}
	if !lambda.IsVersion(al.FunctionVersion) {
		return lambda.KindValidation.Errorf("1 validation error detected: Value '%s' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)", al.FunctionVersion)
	}
	if err := lambda.ValidateRouting(al.FunctionVersion, al.Weights); err != nil {
		return err
	}
	var primary *lambda.Function
	for _, v := range al.Versions() {
		fn, err := a.opts.Store.GetFunction(ctx, al.Function, v)
		if errors.Is(err, store.ErrNotFound) {
			if v == lambda.LatestVersion {
				return lambda.FunctionNotFound(a.id.FunctionARN(al.Function))
			}
			return lambda.FunctionNotFound(a.id.QualifiedARN(al.Function, v))
		}
		if err != nil {
			return err
		}
		// Lambda routes only between versions that behave alike toward
		// the outside: the same role and dead-letter target.
		if primary == nil {
			primary = fn
		} else if fn.Role != primary.Role || fn.DeadLetterTarget != primary.DeadLetterTarget {
			return lambda.KindInvalidParameterValue.Errorf("The function versions in an alias's routing configuration must have the same execution role and dead-letter queue configuration (versions %s and %s differ).", primary.Version, fn.Version)
		}
	}
	return nil
}

// aliasPath resolves {name} and {alias} of the single-alias operations.
func (a *API) aliasPath(r *http.Request) (name, alias string, err error) {
	name, err = a.unqualifiedFunction(r)
	if err != nil {
		return "", "", err
	}
	alias = r.PathValue("alias")
	if err := lambda.ValidateAliasName(alias); err != nil {
		return "", "", err
	}
	return name, alias, nil
}

// aliasNotFound is Lambda's answer for an unknown alias of an existing
// function, and the function's for an unknown function.
func (a *API) aliasNotFound(ctx context.Context, name, alias string) error {
	if a.functionMissing(ctx, name) {
		return lambda.FunctionNotFound(a.id.FunctionARN(name))
	}
	return lambda.KindResourceNotFound.Errorf("Alias not found: %s", a.id.QualifiedARN(name, alias))
}

// functionMissing reports whether the function does not exist (a read
// error counts as existing: the caller's not-found answer stands).
func (a *API) functionMissing(ctx context.Context, name string) bool {
	_, err := a.opts.Store.GetFunction(ctx, name, lambda.LatestVersion)
	return errors.Is(err, store.ErrNotFound)
}

func (a *API) getAlias(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, alias, err := a.aliasPath(r)
	if err != nil {
		return err
	}
	al, err := a.opts.Store.GetAlias(r.Context(), name, alias)
	if errors.Is(err, store.ErrNotFound) {
		if a.functionMissing(r.Context(), name) {
			return lambda.FunctionNotFound(a.id.FunctionARN(name))
		}
		// GetAlias words it differently from UpdateAlias.
		return lambda.KindResourceNotFound.Errorf("Cannot find alias arn: %s", a.id.QualifiedARN(name, alias))
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.aliasOut(al))
}

func (a *API) updateAlias(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in aliasInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	name, alias, err := a.aliasPath(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	al, err := a.opts.Store.UpdateAlias(ctx, name, alias, func(al *lambda.Alias) error {
		if in.RevisionId != "" && in.RevisionId != al.RevisionID {
			return lambda.RevisionMismatch()
		}
		if in.FunctionVersion != nil {
			al.FunctionVersion = *in.FunctionVersion
		}
		if in.Description != nil {
			al.Description = *in.Description
		}
		if in.RoutingConfig != nil { // {AdditionalVersionWeights:{}} clears it
			al.Weights = in.RoutingConfig.AdditionalVersionWeights
		}
		if len(al.Weights) == 0 {
			al.Weights = nil
		}
		al.RevisionID = uuid.NewString()
		return a.checkAliasTargets(ctx, al)
	})
	if errors.Is(err, store.ErrNotFound) {
		return a.aliasNotFound(ctx, name, alias)
	}
	if errors.Is(err, store.ErrConflict) {
		return lambda.KindResourceConflict.Errorf("The operation cannot be performed at this time. An update is in progress for resource: %s", a.id.QualifiedARN(name, alias))
	}
	if err != nil {
		return err
	}
	a.opts.Invoker.Forget(name)
	return writeJSON(w, http.StatusOK, a.aliasOut(al))
}

func (a *API) deleteAlias(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, alias, err := a.aliasPath(r)
	if err != nil {
		return err
	}
	if a.functionMissing(r.Context(), name) {
		return lambda.FunctionNotFound(a.id.FunctionARN(name))
	}
	if err := a.opts.Store.DeleteAlias(r.Context(), name, alias); err != nil {
		return err
	}
	a.opts.Invoker.Forget(name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type listAliasesOutput struct {
	Aliases    []aliasConfiguration `json:"Aliases"`
	NextMarker string               `json:"NextMarker,omitempty"`
}

// listAliases pages aliases by name, optionally only those routing to
// FunctionVersion.
func (a *API) listAliases(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := a.unqualifiedFunction(r)
	if err != nil {
		return err
	}
	p, err := parsePage(r, lambda.MaxListFunctionsPage)
	if err != nil {
		return err
	}
	aliases, err := a.opts.Store.ListAliases(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return lambda.FunctionNotFound(a.id.FunctionARN(name))
	}
	if err != nil {
		return err
	}
	if v := r.URL.Query().Get("FunctionVersion"); v != "" {
		kept := aliases[:0]
		for _, al := range aliases {
			if al.FunctionVersion == v {
				kept = append(kept, al)
			} else if _, ok := al.Weights[v]; ok {
				kept = append(kept, al)
			}
		}
		aliases = kept
	}
	start := sort.Search(len(aliases), func(i int) bool { return aliases[i].Name > p.after })
	end := min(start+p.limit, len(aliases))
	out := listAliasesOutput{Aliases: make([]aliasConfiguration, 0, end-start)}
	for _, al := range aliases[start:end] {
		out.Aliases = append(out.Aliases, a.aliasOut(al))
	}
	if end < len(aliases) {
		out.NextMarker = encodeMarker(aliases[end-1].Name)
	}
	return writeJSON(w, http.StatusOK, out)
}
