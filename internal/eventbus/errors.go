package eventbus

import (
	"errors"
	"net/http"

	"gust/internal/lambda"
)

// The EventBridge wire-error catalog. EventBridge is a JSON 1.1 service:
// every client fault is a 400 and the exception name travels as __type and
// X-Amzn-ErrorType, unlike Lambda's REST statuses, so the kinds are
// EventBridge's own values of lambda.Kind.
var (
	kindResourceNotFound      = lambda.Kind{Code: "ResourceNotFoundException", Status: http.StatusBadRequest, Type: "User"}
	kindResourceAlreadyExists = lambda.Kind{Code: "ResourceAlreadyExistsException", Status: http.StatusBadRequest, Type: "User"}
	kindValidation            = lambda.Kind{Code: "ValidationException", Status: http.StatusBadRequest, Type: "User"}
	kindInvalidEventPattern   = lambda.Kind{Code: "InvalidEventPatternException", Status: http.StatusBadRequest, Type: "User"}
	kindLimitExceeded         = lambda.Kind{Code: "LimitExceededException", Status: http.StatusBadRequest, Type: "User"}
	kindConcurrentModified    = lambda.Kind{Code: "ConcurrentModificationException", Status: http.StatusBadRequest, Type: "User"}
	kindSerialization         = lambda.Kind{Code: "SerializationException", Status: http.StatusBadRequest, Type: "User"}
	kindUnknownOperation      = lambda.Kind{Code: "UnknownOperationException", Status: http.StatusBadRequest, Type: "User"}
	kindInternal              = lambda.Kind{Code: "InternalException", Status: http.StatusInternalServerError, Type: "Service"}
)

// Error codes of failed PutEvents and PutTargets entries, which travel in
// the 200 answer's entries rather than as exceptions.
const (
	entryInvalidArgument  = "InvalidArgument"
	entryMalformedDetail  = "MalformedDetail"
	entryNotAuthorized    = "NotAuthorizedForSourceException"
	entryInternalFailure  = "InternalFailure"
	entryValidationFailed = "ValidationException"
)

// Messages EventBridge uses.
const (
	msgRuleHasTargets = "Rule can't be deleted since it has targets."
	msgLimitExceeded  = "The requested resource exceeds the maximum number allowed."
	msgBadNextToken   = "The NextToken provided is invalid."
)

func ruleNotFound(rule, bus string) error {
	return kindResourceNotFound.Errorf("Rule %s does not exist on EventBus %s.", rule, bus)
}

func busNotFound(bus string) error {
	return kindResourceNotFound.Errorf("Event bus %s does not exist.", bus)
}

// notNull is the model's message for a missing required member.
func notNull(member string) error {
	return kindValidation.Errorf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

// asWireError returns err's wire form; anything that is not an
// EventBridge-shaped error becomes an InternalException (the caller logs
// the cause).
func asWireError(err error) (*lambda.Error, bool) {
	var e *lambda.Error
	if errors.As(err, &e) && e.Code != "" {
		return e, true
	}
	return kindInternal.Errorf("Internal error."), false
}
