package runtimeapi

import (
	"errors"
	"net/http"
)

// handleInvocationError serves POST /runtime/invocation/{id}/error: the
// handler failed. The body is passed to the invoker verbatim; the error
// type comes from Lambda-Runtime-Function-Error-Type (validated, so a
// missing or odd one becomes Runtime.Unknown or Function.Unknown).
func (s *Server) handleInvocationError(w http.ResponseWriter, r *http.Request, id string) {
	if rp, ok := s.checkAnswer(id); !ok {
		rp.write(w)
		return
	}
	body, err := readBody(r.Body, r.ContentLength, s.limit)
	var (
		payload = body
		errType = validErrorType(headerValue(r.Header, hdrErrorType))
		onOK    = replyAccepted
	)
	switch {
	case errors.Is(err, errTooLarge):
		payload, errType, onOK = s.tooLargeBody, errTypeResponseTooLarge, s.tooLarge
	case err != nil:
		s.log.Warn("error body cut short", "requestId", id, "err", err)
		payload, errType, onOK = PlatformError(errTypeTruncatedResponse, id, "runtime error truncated"), errTypeTruncatedResponse, replyTruncated
	}
	rp, ok := s.answer(id, payload, errType)
	if ok {
		rp = onOK
	}
	rp.write(w)
}

func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
