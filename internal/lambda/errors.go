package lambda

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind is one entry of the wire-error catalog: the AWS exception name sent
// in X-Amzn-ErrorType, its HTTP status and its fault category.
type Kind struct {
	Code   string // exception name, e.g. ResourceNotFoundException
	Status int    // HTTP status
	Type   string // "User" for client faults, "Service" for server faults
}

// The catalog. Names and statuses follow the Lambda service model (see
// docs/lambda-compat.md §2.2); RequestEntityTooLarge is what the running
// service sends for oversized requests, not the model's name.
var (
	KindResourceNotFound      = Kind{"ResourceNotFoundException", http.StatusNotFound, "User"}
	KindResourceConflict      = Kind{"ResourceConflictException", http.StatusConflict, "User"}
	KindResourceInUse         = Kind{"ResourceInUseException", http.StatusBadRequest, "User"}
	KindInvalidParameterValue = Kind{"InvalidParameterValueException", http.StatusBadRequest, "User"}
	KindInvalidRequestContent = Kind{"InvalidRequestContentException", http.StatusBadRequest, "User"}
	KindRequestEntityTooLarge = Kind{"RequestEntityTooLargeException", http.StatusRequestEntityTooLarge, "User"}
	KindUnsupportedMediaType  = Kind{"UnsupportedMediaTypeException", http.StatusUnsupportedMediaType, "User"}
	KindTooManyRequests       = Kind{"TooManyRequestsException", http.StatusTooManyRequests, "User"}
	KindPreconditionFailed    = Kind{"PreconditionFailedException", http.StatusPreconditionFailed, "User"}
	KindCodeStorageExceeded   = Kind{"CodeStorageExceededException", http.StatusBadRequest, "User"}
	KindInvalidSignature      = Kind{"InvalidSignatureException", http.StatusForbidden, "User"}
	KindUnrecognizedClient    = Kind{"UnrecognizedClientException", http.StatusForbidden, "User"}
	KindAccessDenied          = Kind{"AccessDeniedException", http.StatusForbidden, "User"}
	KindUnknownOperation      = Kind{"UnknownOperationException", http.StatusNotFound, "User"}
	KindMethodNotAllowed      = Kind{"MethodNotAllowedException", http.StatusMethodNotAllowed, "User"}
	KindService               = Kind{"ServiceException", http.StatusInternalServerError, "Service"}
	KindServiceUnavailable    = Kind{"ServiceUnavailableException", http.StatusServiceUnavailable, "Service"}
	KindInvalidRuntime        = Kind{"InvalidRuntimeException", http.StatusBadGateway, "User"}
	KindResourceNotReady      = Kind{"ResourceNotReadyException", http.StatusBadGateway, "Service"}
	KindInvalidZipFile        = Kind{"InvalidZipFileException", http.StatusBadGateway, "User"}
	KindServiceQuotaExceeded  = Kind{"ServiceQuotaExceededException", http.StatusPaymentRequired, "User"}
	// KindValidation is a failed constraint of the service model (a range
	// or pattern), which the running service reports as
	// ValidationException rather than the model's error shapes.
	KindValidation             = Kind{"ValidationException", http.StatusBadRequest, "User"}
	KindProvisionedNotFound    = Kind{"ProvisionedConcurrencyConfigNotFoundException", http.StatusNotFound, "User"}
	KindPolicyLengthExceeded   = Kind{"PolicyLengthExceededException", http.StatusBadRequest, "User"}
	KindSerializationException = Kind{"SerializationException", http.StatusBadRequest, "User"}
)

// Throttle reasons carried in TooManyRequestsException bodies.
const (
	ReasonConcurrentInvocationLimitExceeded         = "ConcurrentInvocationLimitExceeded"
	ReasonReservedFunctionConcurrentLimitExceeded   = "ReservedFunctionConcurrentInvocationLimitExceeded"
	ReasonFunctionInvocationRateLimitExceeded       = "FunctionInvocationRateLimitExceeded"
	ReasonReservedFunctionInvocationRateLimitExceed = "ReservedFunctionInvocationRateLimitExceeded"
)

// Error is an error with an AWS wire shape. The api package renders it as
// X-Amzn-ErrorType plus {"Type","Message"}; anything else that reaches the
// wire becomes a ServiceException.
type Error struct {
	Kind
	Message           string
	Reason            string // TooManyRequestsException only
	RetryAfterSeconds int    // sent as Retry-After when > 0
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is reports whether target is an *Error of the same kind, so that
// errors.Is(err, lambda.ErrNotFound) works for any not-found message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

// Errorf builds an *Error of kind k with a formatted message.
func (k Kind) Errorf(format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is; they match any message of their kind.
var (
	ErrNotFound           = &Error{Kind: KindResourceNotFound}
	ErrConflict           = &Error{Kind: KindResourceConflict}
	ErrInvalidParameter   = &Error{Kind: KindInvalidParameterValue}
	ErrPreconditionFailed = &Error{Kind: KindPreconditionFailed}
	ErrTooManyRequests    = &Error{Kind: KindTooManyRequests}
)

// AsError returns err as an *Error, mapping anything that is not one to a
// ServiceException whose message hides internal detail.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return KindService.Errorf("An internal error occurred.")
}

// FunctionNotFound is the not-found error for a function ARN, in the words
// the Lambda service uses.
func FunctionNotFound(arn string) *Error {
	return KindResourceNotFound.Errorf("Function not found: %s", arn)
}

// FunctionExists is the conflict on a second CreateFunction of one name.
func FunctionExists(name string) *Error {
	return KindResourceConflict.Errorf("Function already exist: %s", name)
}

// RevisionMismatch is the precondition failure for a stale RevisionId.
func RevisionMismatch() *Error {
	return KindPreconditionFailed.Errorf("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
}

// Throttled is a TooManyRequestsException with the given reason.
func Throttled(reason string) *Error {
	return &Error{Kind: KindTooManyRequests, Message: "Rate Exceeded.", Reason: reason, RetryAfterSeconds: 1}
}
