package api

import (
	"context"
	"net/http"

	"gust/internal/esm"
	"gust/internal/lambda"
	"gust/internal/lazyre"
)

// Gust's own endpoints for broker sources, used by `gust source`. A
// source binds a RabbitMQ queue, a NATS JetStream stream or a Redis
// stream to an SQS, Kinesis or Amazon MQ ARN, which
// CreateEventSourceMapping then names. AWS has no such API (its queues and
// streams are its own services), so these live under /_gust/v1/. They are
// signed and authorized like the other /_gust/v1 endpoints: the account
// root may call them, anyone else needs an Allow for gust:CreateSource,
// gust:GetSource, gust:ListSources or gust:DeleteSource.
//
//	POST   /_gust/v1/sources         esm.Source fields → 201 sourceAnswer
//	GET    /_gust/v1/sources         → {"Sources":[sourceAnswer…]}
//	GET    /_gust/v1/sources/{name}  → sourceAnswer
//	DELETE /_gust/v1/sources/{name}  → 204; ResourceInUseException while mappings use it
//
// A source's URL carries the broker's credentials. No answer holds them:
// every source leaves through esm.Source.Redacted, and no error message
// quotes the URL.

// Sources manages broker sources; *esm.Service implements it.
type Sources interface {
	// PutSource validates and stores a new source, filling its defaults;
	// an existing name is a ResourceConflictException.
	PutSource(ctx context.Context, src esm.Source) (*esm.Source, error)
	// GetSource returns one source, or a ResourceNotFoundException.
	GetSource(ctx context.Context, name string) (*esm.Source, error)
	// ListSources returns every source by name; none is an empty list.
	ListSources(ctx context.Context) ([]*esm.Source, error)
	// DeleteSource removes a source no mapping uses: a missing one is a
	// ResourceNotFoundException, one in use a ResourceInUseException.
	DeleteSource(ctx context.Context, name string) error
}

var _ Sources = (*esm.Service)(nil)

// sourceAnswer is one source as the endpoints render it: redacted, with
// the ARNs a mapping may name it by.
type sourceAnswer struct {
	Source         esm.Source
	EventSourceArn string
	// MQBrokerArn is a RabbitMQ source's Amazon MQ broker ARN (aws:rmq
	// events); absent for other brokers.
	MQBrokerArn string `json:",omitempty"`
}

func (a *API) sourceRoutes() {
	const base = "/_gust/v1/sources"
	route := func(pattern, name string, h handlerFunc) {
		a.handle(pattern, a.operation("lambda", name, maxControlBody, tooLarge(name, maxControlBody), a.withSources(h)))
	}
	route("POST "+base, "GustCreateSource", a.createSource)
	route("GET "+base, "GustListSources", a.listSources)
	route("GET "+base+"/{name}", "GustGetSource", a.getSource)
	route("DELETE "+base+"/{name}", "GustDeleteSource", a.deleteSource)
}

// withSources answers ServiceUnavailable on a server without sources
// rather than reaching h.
func (a *API) withSources(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, body []byte) error {
		if a.opts.Sources == nil {
			return lambda.KindServiceUnavailable.Errorf("Event source mappings are not available on this server.")
		}
		return h(w, r, body)
	}
}

// answerFor renders src for the wire, without its credentials.
func (a *API) answerFor(src *esm.Source) sourceAnswer {
	return sourceAnswer{Source: src.Redacted(), EventSourceArn: src.ARN(a.id), MQBrokerArn: src.MQARN(a.id)}
}

func (a *API) createSource(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in esm.Source
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	src, err := a.opts.Sources.PutSource(r.Context(), in)
	if err != nil {
		return err
	}
	a.logger.Info("source created", "source", src.Name, "broker", src.Broker, "semantics", src.Semantics)
	return writeJSON(w, http.StatusCreated, a.answerFor(src))
}

func (a *API) listSources(w http.ResponseWriter, r *http.Request, _ []byte) error {
	srcs, err := a.opts.Sources.ListSources(r.Context())
	if err != nil {
		return err
	}
	out := make([]sourceAnswer, 0, len(srcs))
	for _, src := range srcs {
		out = append(out, a.answerFor(src))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Sources": out})
}

// sourceName is the source the path names. A name no source can have
// (esm's alphabet: 1 to 80 of [A-Za-z0-9_-]) is not found here, before it
// reaches the store as a key pattern.
func sourceName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if !validSourceName.MatchString(name) {
		return "", lambda.KindResourceNotFound.Errorf("Source not found: %s", name)
	}
	return name, nil
}

var validSourceName = lazyre.New(`^[A-Za-z0-9_-]{1,80}$`)

func (a *API) getSource(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := sourceName(r)
	if err != nil {
		return err
	}
	src, err := a.opts.Sources.GetSource(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.answerFor(src))
}

func (a *API) deleteSource(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := sourceName(r)
	if err != nil {
		return err
	}
	if err := a.opts.Sources.DeleteSource(r.Context(), name); err != nil {
		return err
	}
	a.logger.Info("source deleted", "source", name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
