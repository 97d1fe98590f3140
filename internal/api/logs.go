package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"gust/internal/lambda"
)

// logsOperation verifies CloudWatch Logs requests (JSON 1.1, signed for
// service "logs") and hands them to the logs handler. Errors use the JSON
// 1.1 shape: {"__type","message"}.
func (a *API) logsOperation() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := uuid.NewString()
		w.Header().Set("x-amzn-RequestId", rid)
		fail := func(err error) {
			e := lambda.AsError(err)
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.Header().Set("X-Amzn-ErrorType", e.Code)
			w.WriteHeader(e.Status)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
		}
		if !strings.HasPrefix(r.Header.Get("X-Amz-Target"), "Logs_20140328.") || a.opts.Logs == nil {
			fail(lambda.KindUnknownOperation.Errorf("Unknown operation %q", r.Header.Get("X-Amz-Target")))
			return
		}
		err := a.opts.Verifier.Precheck(r)
		var body []byte
		if err == nil {
			body, err = readBody(w, r, maxControlBody)
			if errors.Is(err, errTooLarge) {
				err = lambda.KindRequestEntityTooLarge.Errorf("Request must be smaller than %d bytes", maxControlBody)
			}
		}
		if err == nil {
			err = a.authenticate(r, body, "logs")
		}
		if err != nil {
			fail(err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		a.opts.Logs.ServeHTTP(w, r)
	})
}
