package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gust/internal/lambda"
	"gust/internal/store"
)

// The event-invoke-config operations: Put (PUT, replaces), Update (POST,
// merges), Get, Delete and List (event_invoke_config_list.go). Messages
// and their order follow the running service: model constraints first
// (ValidationException), then "at least one setting", then the function,
// then the destinations.

// eventInvokeConfigInput is the request body of Put and Update. Pointers
// tell "left out" from zero.
type eventInvokeConfigInput struct {
	MaximumRetryAttempts     *int `json:"MaximumRetryAttempts"`
	MaximumEventAgeInSeconds *int `json:"MaximumEventAgeInSeconds"`
	DestinationConfig        *struct {
		OnSuccess *destinationInput `json:"OnSuccess"`
		OnFailure *destinationInput `json:"OnFailure"`
	} `json:"DestinationConfig"`
}

type destinationInput struct {
	Destination *string `json:"Destination"`
}

// destinations returns the OnSuccess and OnFailure ARNs the request sets
// and whether it names each at all (an OnSuccess of {} clears it).
func (in *eventInvokeConfigInput) destinations() (onSuccess, onFailure string, hasSuccess, hasFailure bool) {
	dc := in.DestinationConfig
	if dc == nil {
		return "", "", false, false
	}
	if dc.OnSuccess != nil {
		hasSuccess = true
		if dc.OnSuccess.Destination != nil {
			onSuccess = *dc.OnSuccess.Destination
		}
	}
	if dc.OnFailure != nil {
		hasFailure = true
		if dc.OnFailure.Destination != nil {
			onFailure = *dc.OnFailure.Destination
		}
	}
	return onSuccess, onFailure, hasSuccess, hasFailure
}

// validate checks the model's constraints, then that something is set,
// then that every destination is of a kind Gust delivers to.
func (in *eventInvokeConfigInput) validate() error {
	var vs []lambda.Violation
	if n := in.MaximumRetryAttempts; n != nil {
		if v := lambda.RangeViolation("maximumRetryAttempts", *n, 0, lambda.MaxAsyncRetries); v != nil {
			vs = append(vs, *v)
		}
	}
	if n := in.MaximumEventAgeInSeconds; n != nil {
		if v := lambda.RangeViolation("maximumEventAgeInSeconds", *n, lambda.MinEventAgeSeconds, lambda.MaxEventAgeSeconds); v != nil {
			vs = append(vs, *v)
		}
	}
	onSuccess, onFailure, _, _ := in.destinations()
	if v := lambda.DestinationViolation("destinationConfig.onSuccess.destination", onSuccess); v != nil {
		vs = append(vs, *v)
	}
	if v := lambda.DestinationViolation("destinationConfig.onFailure.destination", onFailure); v != nil {
		vs = append(vs, *v)
	}
	if err := lambda.ValidationFailed(vs...); err != nil {
		return err
	}
	if in.MaximumRetryAttempts == nil && in.MaximumEventAgeInSeconds == nil && in.DestinationConfig == nil {
		return lambda.EventInvokeConfigEmpty()
	}
	for _, arn := range []string{onSuccess, onFailure} {
		if arn == "" {
			continue
		}
		if _, err := lambda.ParseDestination(arn); err != nil {
			return lambda.DestinationConfigInvalid(onSuccess, onFailure, lambda.AsError(err).Message)
		}
	}
	return nil
}

// eventInvokeConfigOutput is Lambda's FunctionEventInvokeConfig. The
// service always sends DestinationConfig with both members, {} when unset.
type eventInvokeConfigOutput struct {
	LastModified             epochSeconds      `json:"LastModified"`
	FunctionArn              string            `json:"FunctionArn"`
	MaximumRetryAttempts     *int              `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int              `json:"MaximumEventAgeInSeconds,omitempty"`
	DestinationConfig        destinationConfig `json:"DestinationConfig"`
}

type destinationConfig struct {
	OnSuccess destinationOutput `json:"OnSuccess"`
	OnFailure destinationOutput `json:"OnFailure"`
}

type destinationOutput struct {
	Destination string `json:"Destination,omitempty"`
}

// epochSeconds renders a time as Lambda's Date-typed fields are: a JSON
// number of seconds since the epoch with milliseconds (1573686021.479).
type epochSeconds time.Time

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return fmt.Appendf(nil, "%d.%03d", ms/1000, ms%1000), nil
}

func (a *API) eventInvokeConfigOut(c *lambda.EventInvokeConfig) eventInvokeConfigOutput {
	return eventInvokeConfigOutput{
		LastModified:             epochSeconds(c.LastModified),
		FunctionArn:              a.id.QualifiedARN(c.FunctionName, c.Qualifier),
		MaximumRetryAttempts:     c.MaximumRetryAttempts,
		MaximumEventAgeInSeconds: c.MaximumEventAgeInSeconds,
		DestinationConfig: destinationConfig{
			OnSuccess: destinationOutput{Destination: c.OnSuccess},
			OnFailure: destinationOutput{Destination: c.OnFailure},
		},
	}
}

// eventInvokeTarget resolves the {name} label and ?Qualifier= to a function
// name and qualifier ($LATEST when neither names one). ours is false when
// the reference names another region or account.
func (a *API) eventInvokeTarget(r *http.Request) (name, qualifier string, ours bool, err error) {
	ref, err := lambda.ParseFunctionRef(r.PathValue("name"))
	if err != nil {
		return "", "", false, err
	}
	q := r.URL.Query().Get("Qualifier")
	if q != "" && !lambda.ValidQualifier(q) {
		return "", "", false, lambda.ValidationFailed(lambda.Violation{Value: q, Member: "qualifier",
			Constraint: "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"})
	}
	if q != "" && ref.Qualifier != "" && q != ref.Qualifier {
		return "", "", false, lambda.QualifierMismatch()
	}
	if ref.Qualifier == "" {
		ref.Qualifier = q
	}
	if ref.Qualifier == "" {
		ref.Qualifier = lambda.LatestVersion
	}
	return ref.Name, ref.Qualifier, a.id.Owns(ref), nil
}

// requireQualifier checks that the function and the version or alias the
// qualifier names exist.
func (a *API) requireQualifier(ctx context.Context, name, qualifier string) error {
	if _, err := a.opts.Store.GetFunction(ctx, name, lambda.LatestVersion); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return lambda.FunctionDoesNotExist()
		}
		return err
	}
	if _, err := a.qualifierTarget(ctx, name, qualifier); err != nil {
		if errors.Is(err, lambda.ErrNotFound) {
			return lambda.FunctionDoesNotExist()
		}
		return err
	}
	return nil
}

// checkDestination checks that a destination names something this Gust
// can deliver to: its own region and account, and for a function, one
// that exists and is not the configured function itself.
func (a *API) checkDestination(ctx context.Context, self, arn string) error {
	if arn == "" {
		return nil
	}
	d, err := lambda.ParseDestination(arn)
	if err != nil {
		return err // validate has refused it already
	}
	if d.Region != a.id.Region || d.Account != a.id.Account {
		return lambda.DestinationARNInvalid(arn, fmt.Sprintf("Gust delivers only to functions and queues of its own region and account (%s, %s).", a.id.Region, a.id.Account))
	}
	if d.Kind != lambda.DestinationLambda {
		return nil
	}
	if d.Name == self {
		return lambda.DestinationIsSelf()
	}
	q := d.Qualifier
	if q == "" {
		q = lambda.LatestVersion
	}
	if _, err := a.opts.Store.GetFunction(ctx, d.Name, q); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return lambda.DestinationARNInvalid(arn, "")
		}
		return err
	}
	return nil
}

// putFunctionEventInvokeConfig replaces the whole config of a qualifier.
func (a *API) putFunctionEventInvokeConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	return a.writeEventInvokeConfig(w, r, body, false)
}

// updateFunctionEventInvokeConfig merges the members given into the
// existing config: OnSuccess and OnFailure each on their own.
func (a *API) updateFunctionEventInvokeConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	return a.writeEventInvokeConfig(w, r, body, true)
}

func (a *API) writeEventInvokeConfig(w http.ResponseWriter, r *http.Request, body []byte, merge bool) error {
	name, qualifier, ours, err := a.eventInvokeTarget(r)
	if err != nil {
		return err
	}
	var in eventInvokeConfigInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	if err := in.validate(); err != nil {
		return err
	}
	ctx := r.Context()
	if !ours {
		return lambda.FunctionDoesNotExist()
	}
	if err := a.requireQualifier(ctx, name, qualifier); err != nil {
		return err
	}
	onSuccess, onFailure, hasSuccess, hasFailure := in.destinations()
	for _, arn := range []string{onSuccess, onFailure} {
		if err := a.checkDestination(ctx, name, arn); err != nil {
			return err
		}
	}
	now := time.Now()
	var cfg *lambda.EventInvokeConfig
	if merge {
		cfg, err = a.opts.Store.UpdateEventInvokeConfig(ctx, name, qualifier, func(c *lambda.EventInvokeConfig) error {
			if in.MaximumRetryAttempts != nil {
				c.MaximumRetryAttempts = in.MaximumRetryAttempts
			}
			if in.MaximumEventAgeInSeconds != nil {
				c.MaximumEventAgeInSeconds = in.MaximumEventAgeInSeconds
			}
			if hasSuccess {
				c.OnSuccess = onSuccess
			}
			if hasFailure {
				c.OnFailure = onFailure
			}
			c.LastModified = now
			return nil
		})
	} else {
		cfg = &lambda.EventInvokeConfig{
			FunctionName:             name,
			Qualifier:                qualifier,
			MaximumRetryAttempts:     in.MaximumRetryAttempts,
			MaximumEventAgeInSeconds: in.MaximumEventAgeInSeconds,
			OnSuccess:                onSuccess,
			OnFailure:                onFailure,
			LastModified:             now,
		}
		err = a.opts.Store.PutEventInvokeConfig(ctx, cfg)
	}
	switch {
	case errors.Is(err, store.ErrNotFound) && merge:
		return lambda.EventInvokeConfigNotFound(a.id.QualifiedARN(name, qualifier))
	case errors.Is(err, store.ErrNotFound):
		return lambda.FunctionDoesNotExist() // deleted meanwhile
	case errors.Is(err, store.ErrConflict):
		return lambda.KindResourceConflict.Errorf("The operation cannot be performed at this time. An update is in progress for resource: %s", a.id.QualifiedARN(name, qualifier))
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, a.eventInvokeConfigOut(cfg))
}

func (a *API) getFunctionEventInvokeConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, ours, err := a.eventInvokeTarget(r)
	if err != nil {
		return err
	}
	if !ours {
		return lambda.EventInvokeConfigNotFound(a.id.QualifiedARN(name, qualifier))
	}
	cfg, err := a.opts.Store.GetEventInvokeConfig(r.Context(), name, qualifier)
	if errors.Is(err, store.ErrNotFound) {
		return lambda.EventInvokeConfigNotFound(a.id.QualifiedARN(name, qualifier))
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.eventInvokeConfigOut(cfg))
}

func (a *API) deleteFunctionEventInvokeConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, ours, err := a.eventInvokeTarget(r)
	if err != nil {
		return err
	}
	if !ours {
		return lambda.EventInvokeConfigNotFound(a.id.QualifiedARN(name, qualifier))
	}
	err = a.opts.Store.DeleteEventInvokeConfig(r.Context(), name, qualifier)
	if errors.Is(err, store.ErrNotFound) {
		return lambda.EventInvokeConfigNotFound(a.id.QualifiedARN(name, qualifier))
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
