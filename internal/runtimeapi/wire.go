package runtimeapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Header names of the Runtime API, in canonical form so they index
// http.Header directly.
const (
	hdrRequestID       = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadlineMs      = "Lambda-Runtime-Deadline-Ms"
	hdrFunctionARN     = "Lambda-Runtime-Invoked-Function-Arn"
	hdrTraceID         = "Lambda-Runtime-Trace-Id"
	hdrClientContext   = "Lambda-Runtime-Client-Context"
	hdrCognitoIdentity = "Lambda-Runtime-Cognito-Identity"
	hdrTenantID        = "Lambda-Runtime-Aws-Tenant-Id"
	hdrContentType     = "Content-Type"
	hdrContentLength   = "Content-Length"
	hdrResponseMode    = "Lambda-Runtime-Function-Response-Mode"
	hdrErrorType       = "Lambda-Runtime-Function-Error-Type"
	hdrErrorBody       = "Lambda-Runtime-Function-Error-Body"

	contentTypeJSON   = "application/json"
	responseStreaming = "streaming"
)

// Error types the platform itself assigns to an invocation (§3.3).
const (
	errTypeRuntimeUnknown      = "Runtime.Unknown"
	errTypeFunctionUnknown     = "Function.Unknown"
	errTypeResponseTooLarge    = "Function.ResponseSizeTooLarge"
	errTypeTruncatedResponse   = "Runtime.TruncatedResponse"
	errTypeInvalidResponseMode = "Runtime.InvalidResponseModeHeader"
)

// errorBody is the Runtime API error shape: camelCase, message first.
type errorBody struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

func marshalError(errType, msg string) []byte {
	b, err := json.Marshal(errorBody{ErrorMessage: msg, ErrorType: errType})
	if err != nil { // cannot happen for two strings
		panic("runtimeapi: marshal error body: " + err.Error())
	}
	return b
}

// PlatformError is the body of an error the runtime did not report itself
// (RIE's formatted error response): {"errorMessage":"RequestId: <id>
// Error: <text>","errorType":<type>}.
func PlatformError(errType, requestID, text string) []byte {
	return marshalError(errType, "RequestId: "+requestID+" Error: "+text)
}

// reply is a prepared Runtime API response, built once so the hot path
// allocates nothing for it. net/http adds Content-Length itself.
type reply struct {
	status int
	body   []byte
}

func newReply(status int, body []byte) reply {
	return reply{status: status, body: body}
}

var (
	jsonContentType = []string{contentTypeJSON}

	replyAccepted         = newReply(http.StatusAccepted, []byte(`{"status":"OK"}`))
	replyInvalidRequestID = newReply(http.StatusBadRequest, marshalError("InvalidRequestID", "Invalid request ID"))
	replyInvalidMode      = newReply(http.StatusBadRequest, marshalError("InvalidFunctionResponseMode", "Invalid function response mode"))
	replyTruncated        = newReply(http.StatusBadRequest, marshalError("TruncatedHTTPRequest", "HTTP request detected as truncated"))
)

// tooLargeReply is the 413 the runtime gets for an oversized body.
func tooLargeReply(limit int) reply {
	return newReply(http.StatusRequestEntityTooLarge, marshalError("RequestEntityTooLarge",
		"Exceeded maximum allowed payload size ("+strconv.Itoa(limit)+" bytes)."))
}

// tooLargeResult is the error payload the invoker gets for it.
func tooLargeResult(limit int) []byte {
	return marshalError(errTypeResponseTooLarge,
		"Response payload size exceeded maximum allowed payload size ("+strconv.Itoa(limit)+" bytes).")
}

// denied is the 403 for a transition the state machine does not allow.
func denied(from state, on event) reply {
	return newReply(http.StatusForbidden, marshalError("InvalidStateTransition",
		"State transition from "+from.String()+" on "+on.String()+" failed for runtime."))
}

func (rp reply) write(w http.ResponseWriter) {
	h := w.Header()
	h[hdrContentType] = jsonContentType
	w.WriteHeader(rp.status)
	_, _ = w.Write(rp.body) // a runtime that left cannot be told anything
}

// validErrorType returns t when it looks like a Runtime or Function error
// type, and otherwise Function.Unknown or Runtime.Unknown, as RIE does: t
// must contain "Runtime." or "Function." followed by an upper-case letter
// and at least one more letter.
func validErrorType(t string) string {
	if containsErrorType(t, "Runtime.") || containsErrorType(t, "Function.") {
		return t
	}
	if strings.HasPrefix(t, "Function.") {
		return errTypeFunctionUnknown
	}
	return errTypeRuntimeUnknown
}

func containsErrorType(t, prefix string) bool {
	for {
		i := strings.Index(t, prefix)
		if i < 0 {
			return false
		}
		t = t[i+len(prefix):]
		if len(t) >= 2 && isUpper(t[0]) && isLetter(t[1]) {
			return true
		}
	}
}

func isUpper(c byte) bool  { return 'A' <= c && c <= 'Z' }
func isLetter(c byte) bool { return isUpper(c) || ('a' <= c && c <= 'z') }
