package api

import (
	"context"
	"net/http"
	"sort"
	"strings"

	"gust/internal/lambda"
)

// EventSourceMappings is the event source mapping service; esm.Service
// implements it. Errors are *lambda.Error in Lambda's words: a UUID that
// names no mapping is a ResourceNotFoundException, a mapping between
// states a ResourceInUseException.
type EventSourceMappings interface {
	// CreateEventSourceMapping stores a new mapping in state Creating.
	CreateEventSourceMapping(ctx context.Context, in *lambda.EventSourceMappingInput) (*lambda.EventSourceMapping, error)
	GetEventSourceMapping(ctx context.Context, uuid string) (*lambda.EventSourceMapping, error)
	// UpdateEventSourceMapping changes the settings in names.
	UpdateEventSourceMapping(ctx context.Context, uuid string, in *lambda.EventSourceMappingInput) (*lambda.EventSourceMapping, error)
	// DeleteEventSourceMapping puts a mapping in state Deleting.
	DeleteEventSourceMapping(ctx context.Context, uuid string) (*lambda.EventSourceMapping, error)
	// ListEventSourceMappings returns the mappings of a source and/or a
	// function ("" matches any), ordered by UUID.
	ListEventSourceMappings(ctx context.Context, eventSourceArn, functionName string) ([]*lambda.EventSourceMapping, error)
}

// esmRoutes registers the event source mapping operations.
func (a *API) esmRoutes() {
	p := "/2015-03-31/event-source-mappings"
	op := func(name string, h handlerFunc) http.Handler {
		return a.operation("lambda", name, maxControlBody, tooLarge(name, maxControlBody), a.withESM(h))
	}
	a.handle("POST "+p, op("CreateEventSourceMapping", a.createEventSourceMapping))
	a.handle("GET "+p, op("ListEventSourceMappings", a.listEventSourceMappings))
	a.handle("GET "+p+"/{UUID}", op("GetEventSourceMapping", a.getEventSourceMapping))
	a.handle("PUT "+p+"/{UUID}", op("UpdateEventSourceMapping", a.updateEventSourceMapping))
	a.handle("DELETE "+p+"/{UUID}", op("DeleteEventSourceMapping", a.deleteEventSourceMapping))
}

// withESM answers for an API built without the mapping service.
func (a *API) withESM(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, body []byte) error {
		if a.opts.EventSourceMappings == nil {
			return lambda.KindServiceUnavailable.Errorf("Event source mappings are not available on this server.")
		}
		return h(w, r, body)
	}
}

// esmOutput is Lambda's EventSourceMappingConfiguration. Lambda sends
// FunctionResponseTypes as [] on SQS, Kinesis and DynamoDB mappings that
// have none;
// the outer field shadows the stored one in JSON.
type esmOutput struct {
	*lambda.EventSourceMapping
	FunctionResponseTypes *[]string `json:"FunctionResponseTypes,omitempty"`
}

func esmOut(m *lambda.EventSourceMapping) esmOutput {
	out := esmOutput{EventSourceMapping: m}
	switch {
	case len(m.FunctionResponseTypes) > 0:
		out.FunctionResponseTypes = &m.FunctionResponseTypes
	case strings.HasPrefix(m.EventSourceArn, "arn:aws:sqs:"), strings.HasPrefix(m.EventSourceArn, "arn:aws:kinesis:"),
		lambda.IsDynamoDBStreamARN(m.EventSourceArn):
		out.FunctionResponseTypes = &[]string{}
	}
	return out
}

type listEventSourceMappingsOutput struct {
	EventSourceMappings []esmOutput `json:"EventSourceMappings"`
	NextMarker          string      `json:"NextMarker,omitempty"`
}

func (a *API) createEventSourceMapping(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in lambda.EventSourceMappingInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	m, err := a.opts.EventSourceMappings.CreateEventSourceMapping(r.Context(), &in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, esmOut(m))
}

func (a *API) getEventSourceMapping(w http.ResponseWriter, r *http.Request, _ []byte) error {
	m, err := a.opts.EventSourceMappings.GetEventSourceMapping(r.Context(), r.PathValue("UUID"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, esmOut(m))
}

func (a *API) updateEventSourceMapping(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in lambda.EventSourceMappingInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	m, err := a.opts.EventSourceMappings.UpdateEventSourceMapping(r.Context(), r.PathValue("UUID"), &in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, esmOut(m))
}

func (a *API) deleteEventSourceMapping(w http.ResponseWriter, r *http.Request, _ []byte) error {
	m, err := a.opts.EventSourceMappings.DeleteEventSourceMapping(r.Context(), r.PathValue("UUID"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, esmOut(m))
}

// listEventSourceMappings pages by UUID: the marker is the base64 of the
// last UUID returned, and NextMarker is left out on the last page.
func (a *API) listEventSourceMappings(w http.ResponseWriter, r *http.Request, _ []byte) error {
	p, err := parsePage(r, lambda.MaxESMPage)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	all, err := a.opts.EventSourceMappings.ListEventSourceMappings(r.Context(), q.Get("EventSourceArn"), q.Get("FunctionName"))
	if err != nil {
		return err
	}
	start := sort.Search(len(all), func(i int) bool { return all[i].UUID > p.after })
	end := min(start+p.limit, len(all))
	out := listEventSourceMappingsOutput{EventSourceMappings: make([]esmOutput, 0, end-start)}
	for _, m := range all[start:end] {
		out.EventSourceMappings = append(out.EventSourceMappings, esmOut(m))
	}
	if end < len(all) {
		out.NextMarker = encodeMarker(all[end-1].UUID)
	}
	return writeJSON(w, http.StatusOK, out)
}
