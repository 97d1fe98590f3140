package runtimeapi

import (
	"encoding/base64"
	"errors"
	"net/http"
)

// handleResponse serves POST /runtime/invocation/{id}/response: the
// function's result. The body is read whole (up to the limit) before the
// invocation is answered.
//
// With Lambda-Runtime-Function-Response-Mode: streaming the body arrives
// chunked and may end with the trailers Lambda-Runtime-Function-Error-Type
// and Lambda-Runtime-Function-Error-Body (base64 of the error JSON); such a
// response becomes an error Result whose payload is the decoded error body.
// The trailers are honoured without the mode header too, since
// aws-lambda-go declares them on every response it posts. Any other mode
// value answers the invocation with Runtime.InvalidResponseModeHeader and
// the runtime gets 400 InvalidFunctionResponseMode.
func (s *Server) handleResponse(w http.ResponseWriter, r *http.Request, id string) {
	if rp, ok := s.checkAnswer(id); !ok {
		rp.write(w)
		return
	}
	if mode := headerValue(r.Header, hdrResponseMode); mode != "" && mode != responseStreaming {
		rp, ok := s.answer(id, PlatformError(errTypeInvalidResponseMode, id, "invalid response mode"), errTypeInvalidResponseMode)
		if ok {
			rp = replyInvalidMode
		}
		rp.write(w)
		return
	}

	body, err := readBody(r.Body, r.ContentLength, s.limit)
	var (
		payload = body
		errType string
		onOK    = replyAccepted
	)
	switch {
	case errors.Is(err, errTooLarge):
		payload, errType, onOK = s.tooLargeBody, errTypeResponseTooLarge, s.tooLarge
	case err != nil:
		s.log.Warn("response body cut short", "requestId", id, "err", err)
		payload, errType, onOK = PlatformError(errTypeTruncatedResponse, id, "runtime response truncated"), errTypeTruncatedResponse, replyTruncated
	default:
		if t := trailer(r, hdrErrorType); t != "" {
			errType = validErrorType(t)
			payload = decodeErrorBody(trailer(r, hdrErrorBody), errType, id)
		}
	}
	rp, ok := s.answer(id, payload, errType)
	if ok {
		rp = onOK
	}
	rp.write(w)
}

func trailer(r *http.Request, key string) string {
	if v := r.Trailer[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// decodeErrorBody decodes the base64 error-body trailer, falling back to a
// platform error body when it is missing or not base64.
func decodeErrorBody(enc, errType, id string) []byte {
	if enc != "" {
		if b, err := base64.StdEncoding.DecodeString(enc); err == nil {
			return b
		}
	}
	return PlatformError(errType, id, "runtime reported "+errType+" while streaming the response")
}
