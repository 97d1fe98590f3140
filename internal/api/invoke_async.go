package api

import (
	"net/http"

	"gust/internal/invoke"
)

// invokeAsync is the deprecated InvokeAsync operation: an Event invoke
// whose 202 carries {"Status":202}, as the real service sends.
func (a *API) invokeAsync(w http.ResponseWriter, r *http.Request, body []byte) error {
	_, err := a.opts.Invoker.Invoke(r.Context(), invoke.Request{
		FunctionName: r.PathValue("name"),
		Type:         invoke.TypeEvent,
		Payload:      body,
		TraceID:      r.Header.Get("X-Amzn-Trace-Id"),
		RequestID:    w.Header().Get("x-amzn-RequestId"),
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]int{"Status": http.StatusAccepted})
}
