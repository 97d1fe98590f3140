package api

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"gust/internal/lambda"
)

// JSON 1.1 services share POST / and are told apart by X-Amz-Target:
// CloudWatch Logs (Logs_20140328.*, signed for "logs") and EventBridge
// (AWSEvents.*, signed for "events"). Each is verified for its own
// signing name and handed to its handler.
var (
	logsOperation   = "Logs_20140328."
	eventsOperation = "AWSEvents."
)

// jsonRPC dispatches a JSON 1.1 request to its service's operation.
func (a *API) jsonRPC() http.HandlerFunc {
	logs := a.operation("logs", "CloudWatchLogs", maxControlBody, tooLarge("CloudWatchLogs", maxControlBody), a.jsonService(func() http.Handler { return a.opts.Logs }))
	events := a.operation("events", "EventBridge", maxEventsBody, tooLarge("EventBridge", maxEventsBody), a.jsonService(func() http.Handler { return a.opts.Events }))
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), eventsOperation) {
			events(w, r)
			return
		}
		logs(w, r)
	}
}

// jsonService hands a verified JSON 1.1 request to the handler of its
// service, or refuses an operation no service here knows.
func (a *API) jsonService(handler func() http.Handler) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, body []byte) error {
		target := r.Header.Get("X-Amz-Target")
		h := handler()
		if h == nil || !(strings.HasPrefix(target, logsOperation) || strings.HasPrefix(target, eventsOperation)) {
			return lambda.KindUnknownOperation.Errorf("Unknown operation %q", target)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
		return nil
	}
}
