package api

import (
	"net/http"

	"gust/internal/invoke"
)

// invoke is the Invoke operation (§3): the payload in, the function's
// bytes out, function errors as 200 with X-Amz-Function-Error.
func (a *API) invoke(w http.ResponseWriter, r *http.Request, body []byte) error {
	resp, err := a.opts.Invoker.Invoke(r.Context(), invoke.Request{
		FunctionName:  r.PathValue("name"),
		Qualifier:     r.URL.Query().Get("Qualifier"),
		Type:          r.Header.Get("X-Amz-Invocation-Type"),
		LogType:       r.Header.Get("X-Amz-Log-Type"),
		Payload:       body,
		ClientContext: r.Header.Get("X-Amz-Client-Context"),
		TraceID:       r.Header.Get("X-Amzn-Trace-Id"),
		TenantID:      r.Header.Get("X-Amz-Tenant-Id"),
		RequestID:     w.Header().Get("x-amzn-RequestId"),
	})
	if err != nil {
		return err
	}
	h := w.Header()
	if resp.ExecutedVersion != "" && resp.StatusCode == http.StatusOK {
		h.Set("X-Amz-Executed-Version", resp.ExecutedVersion)
	}
	if resp.FunctionError != "" {
		h.Set("X-Amz-Function-Error", resp.FunctionError)
	}
	if resp.LogResult != "" {
		h.Set("X-Amz-Log-Result", resp.LogResult)
	}
	if resp.StatusCode == http.StatusOK {
		h.Set("Content-Type", "application/json")
	}
	w.WriteHeader(resp.StatusCode)
	if len(resp.Payload) > 0 {
		_, _ = w.Write(resp.Payload)
	}
	return nil
}
