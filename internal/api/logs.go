package api

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"gust/internal/lambda"
)

// logs hands a verified CloudWatch Logs request (JSON 1.1, X-Amz-Target
// Logs_20140328.*, signed for service "logs") to the logs handler.
func (a *API) logs(w http.ResponseWriter, r *http.Request, body []byte) error {
	target := r.Header.Get("X-Amz-Target")
	if !strings.HasPrefix(target, "Logs_20140328.") || a.opts.Logs == nil {
		return lambda.KindUnknownOperation.Errorf("Unknown operation %q", target)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	a.opts.Logs.ServeHTTP(w, r)
	return nil
}
