package logs

import (
	"errors"
	"fmt"
	"net/http"
)

// wireKind is one entry of the CloudWatch Logs wire-error catalog: the
// exception name sent as __type and X-Amzn-ErrorType, and its HTTP status.
// These are the Logs service's own shapes (JSON 1.1: every client fault is a
// 400), distinct from Lambda's catalog in package lambda.
type wireKind struct {
	code   string
	status int
}

var (
	kindResourceNotFound   = wireKind{"ResourceNotFoundException", http.StatusBadRequest}
	kindInvalidParameter   = wireKind{"InvalidParameterException", http.StatusBadRequest}
	kindSerialization      = wireKind{"SerializationException", http.StatusBadRequest}
	kindUnknownOperation   = wireKind{"UnknownOperationException", http.StatusBadRequest}
	kindServiceUnavailable = wireKind{"ServiceUnavailableException", http.StatusInternalServerError}
)

// Error is an error with a CloudWatch Logs wire shape. Handler renders it as
// HTTP status + X-Amzn-ErrorType + {"__type","message"}.
type Error struct {
	kind    wireKind
	Message string
}

func (e *Error) Error() string { return e.kind.code + ": " + e.Message }

// Code is the exception name, e.g. ResourceNotFoundException.
func (e *Error) Code() string { return e.kind.code }

// Is matches the sentinels below by kind, whatever the message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.kind == e.kind && t.Message == ""
}

func (k wireKind) errorf(format string, args ...any) *Error {
	return &Error{kind: k, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is; each matches any message of its kind.
var (
	ErrNotFound         = &Error{kind: kindResourceNotFound}
	ErrInvalidParameter = &Error{kind: kindInvalidParameter}
)

// The messages CloudWatch Logs uses.
var (
	// ErrGroupNotFound is returned for an unknown log group.
	ErrGroupNotFound = kindResourceNotFound.errorf("The specified log group does not exist.")
	// ErrStreamNotFound is returned for an unknown log stream.
	ErrStreamNotFound = kindResourceNotFound.errorf("The specified log stream does not exist.")
	errBadToken       = kindInvalidParameter.errorf("The specified nextToken is invalid.")
	errNullGroupName  = kindInvalidParameter.errorf("1 validation error detected: Value null at 'logGroupName' failed to satisfy constraint: Member must not be null")
)

// asWireError returns err's wire form; anything that is not an *Error
// becomes a ServiceUnavailableException (the caller logs the cause).
func asWireError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) && e.kind.code != "" {
		return e, true
	}
	return kindServiceUnavailable.errorf("The service cannot complete the request."), false
}
