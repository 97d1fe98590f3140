package iam

import (
	"errors"
	"fmt"
)

// Sentinels for errors.Is. Every mistake of a caller the Store reports is
// an *Error wrapping one of the first three.
var (
	ErrNotFound = errors.New("iam: not found")
	ErrExists   = errors.New("iam: already exists")
	ErrInvalid  = errors.New("iam: invalid argument")
	ErrClosed   = errors.New("iam: store closed")
)

// Error is a caller's mistake, with a message in IAM's words that is fit
// to show to the caller as it is.
type Error struct {
	Kind    error // ErrNotFound, ErrExists or ErrInvalid
	Message string
	Cause   error // what was wrong in detail (e.g. a *policy.MalformedError); may be nil
}

func (e *Error) Error() string { return e.Message }

// Unwrap exposes the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

func notFound(kind, name string) *Error {
	return &Error{Kind: ErrNotFound, Message: fmt.Sprintf("The %s with name %s cannot be found.", kind, name)}
}

func exists(kind, name string) *Error {
	return &Error{Kind: ErrExists, Message: fmt.Sprintf("%s with name %s already exists.", kind, name)}
}

func invalid(format string, args ...any) *Error {
	return &Error{Kind: ErrInvalid, Message: fmt.Sprintf(format, args...)}
}
