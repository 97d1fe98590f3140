package api

import (
	"context"
	"encoding/base64"
	"errors"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"gust/internal/lambda"
	"gust/internal/store"
)

// The provisioned-concurrency operations: Put, Get, List (a GET of the
// same path with List=ALL) and Delete. Messages and their order follow the
// running service: model constraints first, then $LATEST, then the
// function and qualifier, then conflicts, then limits.

// ProvisionedStore is the storage behind these operations (store.Store
// documents not-found and idempotence).
type ProvisionedStore interface {
	PutProvisionedConcurrency(ctx context.Context, cfg store.ProvisionedConcurrency) error
	GetProvisionedConcurrency(ctx context.Context, name, qualifier string) (store.ProvisionedConcurrency, error)
	DeleteProvisionedConcurrency(ctx context.Context, name, qualifier string) error
	ListProvisionedConcurrency(ctx context.Context, name string) ([]store.ProvisionedConcurrency, error)
	ListAllProvisionedConcurrency(ctx context.Context) ([]store.ProvisionedConcurrency, error)
}

func (a *API) provisionedRoutes() {
	pc := "/2019-09-30/functions/{name}/provisioned-concurrency"
	get := a.operation("lambda", "GetProvisionedConcurrencyConfig", maxControlBody, tooLarge("GetProvisionedConcurrencyConfig", maxControlBody), a.getProvisionedConcurrencyConfig)
	list := a.operation("lambda", "ListProvisionedConcurrencyConfigs", maxControlBody, tooLarge("ListProvisionedConcurrencyConfigs", maxControlBody), a.listProvisionedConcurrencyConfigs)
	a.handle("PUT "+pc, a.operation("lambda", "PutProvisionedConcurrencyConfig", maxControlBody, tooLarge("PutProvisionedConcurrencyConfig", maxControlBody), a.putProvisionedConcurrencyConfig))
	// Get and List share the path; List=ALL is what makes it a List.
	a.handle("GET "+pc, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("List") == "ALL" {
			list(w, r)
			return
		}
		get(w, r)
	}))
	a.handle("DELETE "+pc, a.operation("lambda", "DeleteProvisionedConcurrencyConfig", maxControlBody, tooLarge("DeleteProvisionedConcurrencyConfig", maxControlBody), a.deleteProvisionedConcurrencyConfig))
}

// maxProvisionedConfigPage is ListProvisionedConcurrencyConfigs' MaxItems
// bound and default.
const maxProvisionedConfigPage = 50

// Status values of a provisioned-concurrency config. FAILED is never
// reported: an environment whose init fails is started again, with
// backoff, while the config stays IN_PROGRESS.
const (
	provisionedInProgress = "IN_PROGRESS"
	provisionedReady      = "READY"
)

// provisionedConfigOutput is Lambda's provisioned-concurrency config;
// FunctionArn is set in List items only.
type provisionedConfigOutput struct {
	FunctionArn                              string `json:"FunctionArn,omitempty"`
	RequestedProvisionedConcurrentExecutions int    `json:"RequestedProvisionedConcurrentExecutions"`
	AvailableProvisionedConcurrentExecutions int    `json:"AvailableProvisionedConcurrentExecutions"`
	AllocatedProvisionedConcurrentExecutions int    `json:"AllocatedProvisionedConcurrentExecutions"`
	Status                                   string `json:"Status"`
	LastModified                             string `json:"LastModified"`
}

// provisionedOut renders cfg with this node's environments: READY once as
// many as requested are initialised.
func (a *API) provisionedOut(cfg store.ProvisionedConcurrency) provisionedConfigOutput {
	allocated, available := a.opts.Environments.ProvisionedStatus(cfg.Function, cfg.Qualifier)
	out := provisionedConfigOutput{
		RequestedProvisionedConcurrentExecutions: cfg.Requested,
		AvailableProvisionedConcurrentExecutions: min(available, cfg.Requested),
		AllocatedProvisionedConcurrentExecutions: min(allocated, cfg.Requested),
		Status:                                   provisionedInProgress,
		LastModified:                             formatLastModified(cfg.LastModified),
	}
	if available >= cfg.Requested {
		out.Status = provisionedReady
	}
	return out
}

// provisionedVersion checks that qualifier names an existing published
// version or alias of name, and returns the version its environments run
// (an alias's primary version; see envpool/provisioned.go for weighted
// aliases) and the alias, if it is one.
func (a *API) provisionedVersion(ctx context.Context, name, qualifier string) (*lambda.Function, *lambda.Alias, error) {
	version := qualifier
	var al *lambda.Alias
	if !lambda.IsVersion(qualifier) {
		var err error
		al, err = a.opts.Store.GetAlias(ctx, name, qualifier)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, lambda.KindResourceNotFound.Errorf("Cannot find alias arn: %s", a.id.QualifiedARN(name, qualifier))
		}
		if err != nil {
			return nil, nil, err
		}
		version = al.FunctionVersion
	}
	fn, err := a.opts.Store.GetFunction(ctx, name, version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, lambda.FunctionNotFound(a.id.QualifiedARN(name, qualifier))
	}
	if err != nil {
		return nil, nil, err
	}
	return fn, al, nil
}

var (
	errProvisionedUnpublished = lambda.KindInvalidParameterValue.Errorf("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
	errProvisionedLatest      = lambda.KindInvalidParameterValue.Errorf("The function resource provided must be an alias or a published version.")
	errProvisionedNotFound    = lambda.KindProvisionedNotFound.Errorf("No Provisioned Concurrency Config found for this function")
)

// putProvisionedConcurrencyConfig is PutProvisionedConcurrencyConfig: it
// stores the config and applies it to this node at once (other nodes
// follow through the store's watch). 202 with Status IN_PROGRESS.
func (a *API) putProvisionedConcurrencyConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in struct {
		ProvisionedConcurrentExecutions *int `json:"ProvisionedConcurrentExecutions"`
	}
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	name, qualifier, ours, err := a.eventInvokeTarget(r)
	if err != nil {
		return err
	}
	if in.ProvisionedConcurrentExecutions == nil {
		return lambda.KindValidation.Errorf("1 validation error detected: Value null at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must not be null")
	}
	n := *in.ProvisionedConcurrentExecutions
	if v := lambda.RangeViolation("provisionedConcurrentExecutions", n, 1, math.MaxInt32); v != nil {
		return lambda.ValidationFailed(*v)
	}
	if qualifier == lambda.LatestVersion {
		return errProvisionedUnpublished
	}
	if !ours {
		return lambda.FunctionNotFound(a.id.QualifiedARN(name, qualifier))
	}
	// One check-and-set at a time, shared with reserved concurrency: both
	// take from the account's concurrency, and this node's pool must see
	// the writes in the order they were stored.
	a.reserveMu.Lock()
	defer a.reserveMu.Unlock()
	ctx := r.Context()
	fn, al, err := a.provisionedVersion(ctx, name, qualifier)
	if err != nil {
		return err
	}
	if fn.Version == lambda.LatestVersion { // an alias of $LATEST
		return errProvisionedUnpublished
	}
	configs, err := a.opts.Store.ListProvisionedConcurrency(ctx, name)
	if err != nil {
		return err
	}
	if err := a.provisionedConflict(ctx, name, qualifier, al, configs); err != nil {
		return err
	}
	if err := a.provisionedFits(ctx, name, qualifier, n, configs); err != nil {
		return err
	}
	cfg := store.ProvisionedConcurrency{Function: name, Qualifier: qualifier, Requested: n, LastModified: time.Now()}
	if err := a.opts.Store.PutProvisionedConcurrency(ctx, cfg); errors.Is(err, store.ErrNotFound) {
		_, _, err = a.provisionedVersion(ctx, name, qualifier) // deleted meanwhile: say which
		if err == nil {
			err = lambda.FunctionNotFound(a.id.QualifiedARN(name, qualifier))
		}
		return err
	} else if err != nil {
		return err
	}
	a.opts.Environments.SetProvisioned(fn, qualifier, n)
	out := a.provisionedOut(cfg)
	out.Status = provisionedInProgress
	return writeJSON(w, http.StatusAccepted, out)
}

// provisionedConflict refuses a config on an alias whose version has one,
// and on a version that an alias with one routes to: Lambda keeps one
// config per version.
func (a *API) provisionedConflict(ctx context.Context, name, qualifier string, al *lambda.Alias, configs []store.ProvisionedConcurrency) error {
	has := make(map[string]bool, len(configs))
	for _, c := range configs {
		if c.Qualifier != qualifier {
			has[c.Qualifier] = true
		}
	}
	if al != nil {
		for _, v := range al.Versions() {
			if has[v] {
				return lambda.KindResourceConflict.Errorf("Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version")
			}
		}
		return nil
	}
	aliases, err := a.opts.Store.ListAliases(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for _, other := range aliases {
		if has[other.Name] && slices.Contains(other.Versions(), qualifier) {
			return lambda.KindResourceConflict.Errorf("Version is pointed by a Provisioned Concurrency alias")
		}
	}
	return nil
}

// provisionedFits checks n against the function's reserved concurrency,
// which its configs share, or, for a function without one, against the
// account's unreserved concurrency (the limit less every reservation and
// the configs of functions without one), which must keep its minimum.
func (a *API) provisionedFits(ctx context.Context, name, qualifier string, n int, configs []store.ProvisionedConcurrency) error {
	reserved, ok, err := a.opts.Store.GetConcurrency(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return lambda.FunctionNotFound(a.id.QualifiedARN(name, qualifier))
	}
	if err != nil {
		return err
	}
	if ok {
		sum := n
		for _, c := range configs {
			if c.Qualifier != qualifier {
				sum += c.Requested
			}
		}
		if sum > reserved {
			return lambda.KindInvalidParameterValue.Errorf("Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function")
		}
		return nil
	}
	reservations, err := a.opts.Store.ListConcurrency(ctx)
	if err != nil {
		return err
	}
	all, err := a.opts.Store.ListAllProvisionedConcurrency(ctx)
	if err != nil {
		return err
	}
	limit := a.opts.MaxConcurrency
	unreserved := limit - reservedTotal(reservations)
	for _, c := range all {
		if _, has := reservations[c.Function]; !has && (c.Function != name || c.Qualifier != qualifier) {
			unreserved -= c.Requested
		}
	}
	if n > unreserved {
		return lambda.KindInvalidParameterValue.Errorf("Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [%d].", max(unreserved, 0))
	}
	if floor := min(minUnreservedConcurrency, limit); unreserved-n < floor {
		return lambda.KindInvalidParameterValue.Errorf("Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", floor)
	}
	return nil
}

// getProvisionedConcurrencyConfig is GetProvisionedConcurrencyConfig.
func (a *API) getProvisionedConcurrencyConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, err := a.provisionedConfigTarget(r)
	if err != nil {
		return err
	}
	cfg, err := a.opts.Store.GetProvisionedConcurrency(r.Context(), name, qualifier)
	if errors.Is(err, store.ErrNotFound) {
		return errProvisionedNotFound
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.provisionedOut(cfg))
}

// deleteProvisionedConcurrencyConfig is DeleteProvisionedConcurrencyConfig:
// 204, also when the version or alias has no config (as the service
// answers), and this node's environments of the config stop at once.
func (a *API) deleteProvisionedConcurrencyConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, err := a.provisionedConfigTarget(r)
	if err != nil {
		return err
	}
	a.reserveMu.Lock()
	defer a.reserveMu.Unlock()
	if err := a.opts.Store.DeleteProvisionedConcurrency(r.Context(), name, qualifier); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	a.opts.Environments.ClearProvisioned(name, qualifier)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// provisionedConfigTarget resolves Get's and Delete's function and
// qualifier and checks that the version or alias exists.
func (a *API) provisionedConfigTarget(r *http.Request) (name, qualifier string, err error) {
	name, qualifier, ours, err := a.eventInvokeTarget(r)
	if err != nil {
		return "", "", err
	}
	if qualifier == lambda.LatestVersion {
		return "", "", errProvisionedLatest
	}
	if !ours {
		return "", "", lambda.FunctionNotFound(a.id.QualifiedARN(name, qualifier))
	}
	if _, _, err := a.provisionedVersion(r.Context(), name, qualifier); err != nil {
		return "", "", err
	}
	return name, qualifier, nil
}

type listProvisionedConfigsOutput struct {
	ProvisionedConcurrencyConfigs []provisionedConfigOutput `json:"ProvisionedConcurrencyConfigs"`
	NextMarker                    string                    `json:"NextMarker,omitempty"`
}

// listProvisionedConcurrencyConfigs pages through a function's configs,
// versions by number then aliases by name, each with its qualified
// FunctionArn. The marker is the base64 of the last qualifier returned;
// NextMarker is left out on the last page. A qualifier in the
// FunctionName is ignored: the list is always the function's.
func (a *API) listProvisionedConcurrencyConfigs(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := lambda.ParseFunctionRef(r.PathValue("name"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit := maxProvisionedConfigPage
	if s := q.Get("MaxItems"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return lambda.KindInvalidParameterValue.Errorf("Value '%s' at 'maxItems' is not an integer", s)
		}
		if v := lambda.RangeViolation("maxItems", n, 1, maxProvisionedConfigPage); v != nil {
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
	notFound := lambda.FunctionNotFound(a.id.FunctionARN(ref.Name))
	if !a.id.Owns(ref) {
		return notFound
	}
	ctx := r.Context()
	if _, err := a.opts.Store.GetFunction(ctx, ref.Name, lambda.LatestVersion); errors.Is(err, store.ErrNotFound) {
		return notFound
	} else if err != nil {
		return err
	}
	stored, err := a.opts.Store.ListProvisionedConcurrency(ctx, ref.Name)
	if err != nil {
		return err
	}
	// A config whose version or alias went while it was written may be
	// left behind; it is not listed.
	cfgs := stored[:0]
	for _, c := range stored {
		if _, _, err := a.provisionedVersion(ctx, c.Function, c.Qualifier); err == nil {
			cfgs = append(cfgs, c)
		} else if !errors.Is(err, lambda.ErrNotFound) {
			return err
		}
	}
	start := 0
	if after != "" {
		start = sort.Search(len(cfgs), func(i int) bool { return lambda.CompareQualifiers(cfgs[i].Qualifier, after) > 0 })
	}
	end := min(start+limit, len(cfgs))
	out := listProvisionedConfigsOutput{ProvisionedConcurrencyConfigs: make([]provisionedConfigOutput, 0, end-start)}
	for _, c := range cfgs[start:end] {
		item := a.provisionedOut(c)
		item.FunctionArn = a.id.QualifiedARN(c.Function, c.Qualifier)
		out.ProvisionedConcurrencyConfigs = append(out.ProvisionedConcurrencyConfigs, item)
	}
	if end < len(cfgs) {
		out.NextMarker = base64.RawURLEncoding.EncodeToString([]byte(cfgs[end-1].Qualifier))
	}
	return writeJSON(w, http.StatusOK, out)
}
