package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"gust/internal/lambda"
	"gust/internal/s3events"
)

// Gust's own endpoints for object-store notifications, used by `gust s3`.
// S3's bucket notification configuration lives with the bucket, in the
// store; Gust keeps the Lambda half of it, in S3's own JSON shape:
//
//	PUT /_gust/v1/s3/buckets/{bucket}/notification  NotificationConfiguration → 200 what is stored (ids filled in)
//	GET /_gust/v1/s3/buckets/{bucket}/notification  → NotificationConfiguration ({"LambdaFunctionConfigurations":[]} when none)
//	GET /_gust/v1/s3/webhook                        → {"Path":"/_gust/s3/events/<token>","Stats":{…}}
//
// They are signed and authorized like the other /_gust/v1 endpoints (the
// account root, or an Allow for gust:PutBucketNotification,
// gust:GetBucketNotification, gust:GetS3Webhook). A configuration naming a
// function whose resource policy does not let s3.amazonaws.com invoke it
// is refused with S3's InvalidArgument "Unable to validate the following
// destination configurations".
//
// Stores cannot sign SigV4, so the webhook they post events to is not
// signed: POST /_gust/s3/events/{token}, where the token (from
// GET /_gust/v1/s3/webhook) authenticates the store. A wrong token is a
// 403. The body (at most 1 MB) is one store's event; the answer is 200
// only once every invocation it causes is queued durably, 400 for a body
// that is no event, 5xx on a platform fault so that the store retries.
// HEAD and GET with the right token answer 200, for stores that probe
// their webhook before sending.

// S3Events serves bucket notification configuration and the object-store
// webhook; s3events.Service implements it.
type S3Events interface {
	// PutBucketNotification validates cfg (and the functions' resource
	// policies) and replaces bucket's configuration, returning what is
	// stored. An empty configuration removes it. Idempotent.
	PutBucketNotification(ctx context.Context, bucket string, cfg s3events.NotificationConfiguration) (*s3events.NotificationConfiguration, error)
	// GetBucketNotification returns bucket's configuration, empty when
	// there is none.
	GetBucketNotification(ctx context.Context, bucket string) (*s3events.NotificationConfiguration, error)
	// WebhookPath is the webhook's path, the same on every node.
	WebhookPath() string
	// ValidToken reports whether token is the webhook's.
	ValidToken(token string) bool
	// Deliver queues the invocations a webhook body causes and returns
	// once they are queued durably; a body that is no event is
	// s3events.ErrMalformedEvent, anything else a platform fault.
	Deliver(ctx context.Context, body []byte) (s3events.Delivery, error)
	// Stats counts this node's deliveries since it started.
	Stats() s3events.Stats
}

var _ S3Events = (*s3events.Service)(nil)

// s3WebhookAnswer is the body of GET /_gust/v1/s3/webhook.
type s3WebhookAnswer struct {
	Path  string         `json:"Path"`
	Stats s3events.Stats `json:"Stats"` // this node's, since it started
}

// s3Routes registers the object-store notification endpoints.
func (a *API) s3Routes() {
	const base = "/_gust/v1/s3"
	route := func(pattern, name string, h handlerFunc) {
		a.handle(pattern, a.operation("lambda", name, maxControlBody, tooLarge(name, maxControlBody), a.withS3Events(h)))
	}
	route("PUT "+base+"/buckets/{bucket}/notification", "GustPutBucketNotification", a.putBucketNotification)
	route("GET "+base+"/buckets/{bucket}/notification", "GustGetBucketNotification", a.getBucketNotification)
	route("GET "+base+"/webhook", "GustGetS3Webhook", a.getS3Webhook)
	// Unsigned, like function URLs: the token authenticates the store.
	a.mux.HandleFunc(s3events.WebhookPathPrefix+"{token}", a.s3Webhook)
}

// withS3Events answers ServiceUnavailable on a server without
// object-store notifications rather than reaching h.
func (a *API) withS3Events(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, body []byte) error {
		if a.opts.S3Events == nil {
			return lambda.KindServiceUnavailable.Errorf("Object-store notifications are not available on this server.")
		}
		return h(w, r, body)
	}
}

func (a *API) putBucketNotification(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in s3events.NotificationConfiguration
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	out, err := a.opts.S3Events.PutBucketNotification(r.Context(), r.PathValue("bucket"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) getBucketNotification(w http.ResponseWriter, r *http.Request, _ []byte) error {
	out, err := a.opts.S3Events.GetBucketNotification(r.Context(), r.PathValue("bucket"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) getS3Webhook(w http.ResponseWriter, _ *http.Request, _ []byte) error {
	ev := a.opts.S3Events
	return writeJSON(w, http.StatusOK, s3WebhookAnswer{Path: ev.WebhookPath(), Stats: ev.Stats()})
}

// s3Webhook serves POST /_gust/s3/events/{token}.
func (a *API) s3Webhook(w http.ResponseWriter, r *http.Request) {
	rid := uuid.NewString()
	w.Header().Set("x-amzn-RequestId", rid)
	if err := a.serveS3Webhook(w, r); err != nil {
		a.writeError(w, "lambda", rid, "GustS3Webhook", err)
	}
}

func (a *API) serveS3Webhook(w http.ResponseWriter, r *http.Request) error {
	ev := a.opts.S3Events
	if ev == nil {
		return lambda.KindServiceUnavailable.Errorf("Object-store notifications are not available on this server.")
	}
	// The token first: an unknown sender never gets a body read.
	if !ev.ValidToken(r.PathValue("token")) {
		return lambda.KindAccessDenied.Errorf("The webhook token is not valid: ask `gust s3 webhook` for the URL.")
	}
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet, http.MethodHead:
		w.WriteHeader(http.StatusOK)
		return nil
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		return lambda.KindMethodNotAllowed.Errorf("The webhook accepts POST, not %s.", r.Method)
	}
	body, err := readBody(w, r, s3events.MaxWebhookBody)
	if errors.Is(err, errTooLarge) {
		w.Header().Set("Connection", "close")
		return lambda.KindRequestEntityTooLarge.Errorf("An object-store event must be smaller than %d bytes.", s3events.MaxWebhookBody)
	}
	if err != nil {
		return err
	}
	d, err := ev.Deliver(r.Context(), body)
	if errors.Is(err, s3events.ErrMalformedEvent) {
		return lambda.KindInvalidRequestContent.Errorf("Invalid webhook body: %v", err)
	}
	if err != nil {
		return err // a platform fault: 500, and the store retries
	}
	return writeJSON(w, http.StatusOK, d)
}
