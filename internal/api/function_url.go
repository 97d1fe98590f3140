package api

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gust/internal/lambda"
	"gust/internal/store"
)

// The function URL config operations: Create (POST), Get, Update (PUT),
// Delete and List (…/urls). A config belongs to the function itself (no
// qualifier) or to one alias; versions and $LATEST cannot have one. Checks
// run in the service's order: the qualifier and the body's model
// constraints (ValidationException), then the function, then the config.
// The URLs themselves are served by internal/funcurl.

// FunctionURLStore is the storage behind these operations (store.Store
// documents not-found and idempotence).
type FunctionURLStore interface {
	PutFunctionURL(ctx context.Context, u *lambda.FunctionURL) error
	UpdateFunctionURL(ctx context.Context, name, qualifier string, mutate func(u *lambda.FunctionURL) error) (*lambda.FunctionURL, error)
	GetFunctionURL(ctx context.Context, name, qualifier string) (*lambda.FunctionURL, error)
	DeleteFunctionURL(ctx context.Context, name, qualifier string) error
	ListFunctionURLs(ctx context.Context, name string) ([]*lambda.FunctionURL, error)
}

func (a *API) functionURLRoutes() {
	u := "/2021-10-31/functions/{name}/url"
	a.handle("POST "+u, a.operation("lambda", "CreateFunctionUrlConfig", maxControlBody, tooLarge("CreateFunctionUrlConfig", maxControlBody), a.createFunctionURLConfig))
	a.handle("GET "+u, a.operation("lambda", "GetFunctionUrlConfig", maxControlBody, tooLarge("GetFunctionUrlConfig", maxControlBody), a.getFunctionURLConfig))
	a.handle("PUT "+u, a.operation("lambda", "UpdateFunctionUrlConfig", maxControlBody, tooLarge("UpdateFunctionUrlConfig", maxControlBody), a.updateFunctionURLConfig))
	a.handle("DELETE "+u, a.operation("lambda", "DeleteFunctionUrlConfig", maxControlBody, tooLarge("DeleteFunctionUrlConfig", maxControlBody), a.deleteFunctionURLConfig))
	a.handle("GET /2021-10-31/functions/{name}/urls", a.operation("lambda", "ListFunctionUrlConfigs", maxControlBody, tooLarge("ListFunctionUrlConfigs", maxControlBody), a.listFunctionURLConfigs))
}

// urlTimeFormat is how the service writes CreationTime and
// LastModifiedTime: microseconds and Z, unlike the +0000 of
// FunctionConfiguration.LastModified.
const urlTimeFormat = "2006-01-02T15:04:05.000000Z"

// corsInput is the Cors member of a request; pointers tell "left out".
type corsInput struct {
	AllowCredentials *bool    `json:"AllowCredentials"`
	AllowHeaders     []string `json:"AllowHeaders"`
	AllowMethods     []string `json:"AllowMethods"`
	AllowOrigins     []string `json:"AllowOrigins"`
	ExposeHeaders    []string `json:"ExposeHeaders"`
	MaxAge           *int     `json:"MaxAge"`
}

func (c *corsInput) cors() *lambda.Cors {
	if c == nil {
		return nil
	}
	out := &lambda.Cors{AllowHeaders: c.AllowHeaders, AllowMethods: c.AllowMethods, AllowOrigins: c.AllowOrigins, ExposeHeaders: c.ExposeHeaders}
	if c.AllowCredentials != nil {
		out.AllowCredentials = *c.AllowCredentials
	}
	if c.MaxAge != nil {
		out.MaxAge = *c.MaxAge
	}
	return out
}

// functionURLInput is the body of Create and Update.
type functionURLInput struct {
	AuthType   *string    `json:"AuthType"`
	Cors       *corsInput `json:"Cors"`
	InvokeMode *string    `json:"InvokeMode"`
}

func (in *functionURLInput) validate(create bool) error {
	return lambda.ValidateFunctionURLSettings(in.AuthType, in.InvokeMode, in.Cors.cors(), create)
}

// corsOutput is the Cors member of a response: what was configured.
type corsOutput struct {
	AllowCredentials bool     `json:"AllowCredentials"`
	AllowHeaders     []string `json:"AllowHeaders,omitempty"`
	AllowMethods     []string `json:"AllowMethods,omitempty"`
	AllowOrigins     []string `json:"AllowOrigins,omitempty"`
	ExposeHeaders    []string `json:"ExposeHeaders,omitempty"`
	MaxAge           int      `json:"MaxAge"`
}

// functionURLOutput is Lambda's FunctionUrlConfig; Create's answer leaves
// out LastModifiedTime, as the service does.
type functionURLOutput struct {
	FunctionURL      string      `json:"FunctionUrl"`
	FunctionArn      string      `json:"FunctionArn"`
	AuthType         string      `json:"AuthType"`
	Cors             *corsOutput `json:"Cors,omitempty"`
	CreationTime     string      `json:"CreationTime"`
	LastModifiedTime string      `json:"LastModifiedTime,omitempty"`
	InvokeMode       string      `json:"InvokeMode"`
}

func (a *API) functionURLOut(r *http.Request, u *lambda.FunctionURL) functionURLOutput {
	out := functionURLOutput{
		FunctionURL:      a.functionURLAddress(r, u.URLID),
		FunctionArn:      a.id.QualifiedARN(u.Function, u.Qualifier),
		AuthType:         u.AuthType,
		CreationTime:     u.CreationTime.UTC().Format(urlTimeFormat),
		LastModifiedTime: u.LastModifiedTime.UTC().Format(urlTimeFormat),
		InvokeMode:       u.InvokeMode,
	}
	if c := u.Cors; c != nil {
		out.Cors = &corsOutput{AllowCredentials: c.AllowCredentials, AllowHeaders: c.AllowHeaders, AllowMethods: c.AllowMethods,
			AllowOrigins: c.AllowOrigins, ExposeHeaders: c.ExposeHeaders, MaxAge: c.MaxAge}
	}
	return out
}

// functionURLAddress is the URL Gust serves id at: AWS's
// <id>.lambda-url.<region>.on.aws with ".localhost" for ".on.aws" (which
// resolves to loopback without any DNS setup) and the port the API request
// came in on. The same function is also reachable at
// <endpoint>/_gust/url/<id>/.
func (a *API) functionURLAddress(r *http.Request, id string) string {
	host := id + ".lambda-url." + a.id.Region + ".localhost"
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "" {
		host += ":" + port
	}
	return "http://" + host + "/"
}

// functionURLTarget resolves the {name} label and ?Qualifier= to a
// function name and qualifier ("" = the function itself), checking the
// qualifier as the model does. ours is false when the reference names
// another region or account.
func (a *API) functionURLTarget(r *http.Request) (name, qualifier string, ours bool, err error) {
	ref, err := lambda.ParseFunctionRef(r.PathValue("name"))
	if err != nil {
		return "", "", false, err
	}
	q := r.URL.Query().Get("Qualifier")
	if q != "" && ref.Qualifier != "" && q != ref.Qualifier {
		return "", "", false, lambda.QualifierMismatch()
	}
	if ref.Qualifier == "" {
		ref.Qualifier = q
	}
	if err := lambda.ValidateURLQualifier(ref.Qualifier); err != nil {
		return "", "", false, err
	}
	return ref.Name, ref.Qualifier, a.id.Owns(ref), nil
}

// functionURLOwnerExists reports whether the function and, for an alias
// qualifier, the alias exist.
func (a *API) functionURLOwnerExists(ctx context.Context, name, qualifier string) (bool, error) {
	_, err := a.opts.Store.GetFunction(ctx, name, lambda.LatestVersion)
	if err == nil && qualifier != "" {
		_, err = a.opts.Store.GetAlias(ctx, name, qualifier)
	}
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// functionURLStoreError maps what the store returns to the wire; errors
// from a mutate function pass through.
func (a *API) functionURLStoreError(err error, name, qualifier string) error {
	switch {
	case errors.Is(err, store.ErrConflict):
		return lambda.KindResourceConflict.Errorf("The operation cannot be performed at this time. An update is in progress for resource: %s", a.id.QualifiedARN(name, qualifier))
	case errors.Is(err, store.ErrNotFound):
		return lambda.FunctionURLConfigNotFound()
	}
	return err
}

func (a *API) createFunctionURLConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, qualifier, ours, err := a.functionURLTarget(r)
	if err != nil {
		return err
	}
	var in functionURLInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	if err := in.validate(true); err != nil {
		return err
	}
	if !ours {
		return lambda.FunctionURLFunctionNotFound()
	}
	ctx := r.Context()
	ok, err := a.functionURLOwnerExists(ctx, name, qualifier)
	if err != nil {
		return err
	}
	if !ok {
		return lambda.FunctionURLFunctionNotFound()
	}
	now := time.Now()
	u := &lambda.FunctionURL{
		Function:         name,
		Qualifier:        qualifier,
		URLID:            lambda.NewURLID(),
		AuthType:         *in.AuthType,
		InvokeMode:       lambda.InvokeModeBuffered,
		CreationTime:     now,
		LastModifiedTime: now,
	}
	if c := in.Cors.cors(); !c.IsZero() {
		u.Cors = c
	}
	if in.InvokeMode != nil {
		u.InvokeMode = *in.InvokeMode
	}
	switch err := a.opts.Store.PutFunctionURL(ctx, u); {
	case errors.Is(err, store.ErrExists):
		return lambda.FunctionURLConfigExists(a.id.QualifiedARN(name, qualifier))
	case errors.Is(err, store.ErrNotFound):
		return lambda.FunctionURLFunctionNotFound() // deleted meanwhile
	case err != nil:
		return a.functionURLStoreError(err, name, qualifier)
	}
	out := a.functionURLOut(r, u)
	out.LastModifiedTime = ""
	return writeJSON(w, http.StatusCreated, out)
}

func (a *API) getFunctionURLConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, ours, err := a.functionURLTarget(r)
	if err != nil {
		return err
	}
	if !ours {
		return lambda.FunctionURLConfigNotFound()
	}
	u, err := a.opts.Store.GetFunctionURL(r.Context(), name, qualifier)
	if err != nil {
		return a.functionURLStoreError(err, name, qualifier)
	}
	return writeJSON(w, http.StatusOK, a.functionURLOut(r, u))
}

// updateFunctionURLConfig changes the members given: AuthType and
// InvokeMode each on their own, Cors as a whole (an empty Cors object
// removes it, which is how Terraform drops a cors block).
func (a *API) updateFunctionURLConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, qualifier, ours, err := a.functionURLTarget(r)
	if err != nil {
		return err
	}
	var in functionURLInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	if err := in.validate(false); err != nil {
		return err
	}
	if !ours {
		return lambda.FunctionURLFunctionNotFound()
	}
	ctx := r.Context()
	ok, err := a.functionURLOwnerExists(ctx, name, qualifier)
	if err != nil {
		return err
	}
	if !ok {
		return lambda.FunctionURLFunctionNotFound()
	}
	now := time.Now()
	u, err := a.opts.Store.UpdateFunctionURL(ctx, name, qualifier, func(u *lambda.FunctionURL) error {
		if in.AuthType != nil {
			u.AuthType = *in.AuthType
		}
		if in.InvokeMode != nil {
			u.InvokeMode = *in.InvokeMode
		}
		if in.Cors != nil {
			u.Cors = in.Cors.cors()
			if u.Cors.IsZero() {
				u.Cors = nil
			}
		}
		u.LastModifiedTime = now
		return nil
	})
	if err != nil {
		return a.functionURLStoreError(err, name, qualifier)
	}
	return writeJSON(w, http.StatusOK, a.functionURLOut(r, u))
}

func (a *API) deleteFunctionURLConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, ours, err := a.functionURLTarget(r)
	if err != nil {
		return err
	}
	if !ours {
		return lambda.FunctionURLConfigNotFound()
	}
	if err := a.opts.Store.DeleteFunctionURL(r.Context(), name, qualifier); err != nil {
		return a.functionURLStoreError(err, name, qualifier)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type listFunctionURLConfigsOutput struct {
	FunctionURLConfigs []functionURLOutput `json:"FunctionUrlConfigs"`
	NextMarker         string              `json:"NextMarker,omitempty"`
}

// listFunctionURLConfigs pages through a function's configs, its own
// first, then its aliases' by name. The marker is the base64 of "/" and
// the last qualifier returned ("/" alone for the function's own); NextMarker
// is left out on the last page, as paginators need. A qualifier in the
// FunctionName is ignored: the list is always the function's.
func (a *API) listFunctionURLConfigs(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := lambda.ParseFunctionRef(r.PathValue("name"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit := lambda.MaxFunctionURLPage
	if s := q.Get("MaxItems"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return lambda.KindInvalidParameterValue.Errorf("Value '%s' at 'maxItems' is not an integer", s)
		}
		if v := lambda.RangeViolation("maxItems", n, 1, lambda.MaxFunctionURLPage); v != nil {
			return lambda.ValidationFailed(*v)
		}
		limit = n
	}
	after, hasMarker := "", false
	if m := q.Get("Marker"); m != "" {
		b, err := base64.RawURLEncoding.DecodeString(m)
		qual, ok := strings.CutPrefix(string(b), "/")
		if err != nil || !ok || lambda.ValidateURLQualifier(qual) != nil {
			return lambda.KindInvalidParameterValue.Errorf("Invalid marker: %s", m)
		}
		after, hasMarker = qual, true
	}
	if !a.id.Owns(ref) {
		return lambda.FunctionURLFunctionNotFound()
	}
	ctx := r.Context()
	ok, err := a.functionURLOwnerExists(ctx, ref.Name, "")
	if err != nil {
		return err
	}
	if !ok {
		return lambda.FunctionURLFunctionNotFound()
	}
	urls, err := a.opts.Store.ListFunctionURLs(ctx, ref.Name)
	if err != nil {
		return err
	}
	start := 0
	if hasMarker {
		for start < len(urls) && urls[start].Qualifier <= after {
			start++
		}
	}
	end := min(start+limit, len(urls))
	out := listFunctionURLConfigsOutput{FunctionURLConfigs: make([]functionURLOutput, 0, end-start)}
	for _, u := range urls[start:end] {
		out.FunctionURLConfigs = append(out.FunctionURLConfigs, a.functionURLOut(r, u))
	}
	if end < len(urls) {
		out.NextMarker = base64.RawURLEncoding.EncodeToString([]byte("/" + urls[end-1].Qualifier))
	}
	return writeJSON(w, http.StatusOK, out)
}
