package s3events

import (
	"errors"
	"net/http"

	"gust/internal/lambda"
)

// S3's own errors, as its REST API names them. They join the wire-error
// catalog's shape (lambda.Kind), so the api package renders them like
// every other error; they live here because only bucket notifications
// speak S3's vocabulary.
var (
	// KindInvalidArgument is S3's 400 for a configuration it cannot
	// accept: an unknown event, a bad filter, overlapping configurations,
	// or a function it may not invoke.
	KindInvalidArgument = lambda.Kind{Code: "InvalidArgument", Status: http.StatusBadRequest, Type: "User"}
	// KindInvalidBucketName is S3's 400 for a name no bucket can have.
	KindInvalidBucketName = lambda.Kind{Code: "InvalidBucketName", Status: http.StatusBadRequest, Type: "User"}
)

// unableToValidate is S3's refusal of a configuration naming a function
// whose resource policy does not let s3.amazonaws.com invoke it (or that
// does not exist), word for word.
const unableToValidate = "Unable to validate the following destination configurations"

// ErrMalformedEvent marks a webhook body that is not an event of any
// store Gust knows: retrying it cannot help, so the webhook answers 400.
var ErrMalformedEvent = errors.New("not an object-store event")
