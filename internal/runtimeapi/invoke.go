package runtimeapi

import (
	"context"
	"fmt"
	"time"
)

// Invocation is one event for the runtime; its fields become the /next
// response (docs/lambda-compat.md §4.3).
type Invocation struct {
	RequestID          string
	Payload            []byte
	ContentType        string    // "" → application/json
	Deadline           time.Time // sent as Lambda-Runtime-Deadline-Ms (epoch ms)
	InvokedFunctionARN string
	ClientContext      string // decoded JSON text; header omitted when ""
	CognitoIdentity    string
	TraceID            string
	TenantID           string
	// OnDeliver, when set, is called just before the event is written to
	// a /next response (again if that write fails and the event is
	// delivered later). It must be quick; it runs on the handler.
	OnDeliver func()
}

// Result is the runtime's answer to one Invocation.
type Result struct {
	// Payload is the response body, or the error body verbatim.
	Payload []byte
	// ErrorType is "" on success. Otherwise it is the runtime's
	// Lambda-Runtime-Function-Error-Type (header, or trailer of a streamed
	// response) when it matches (Runtime|Function).Xx, else Runtime.Unknown
	// or Function.Unknown as RIE does; or a platform type such as
	// Function.ResponseSizeTooLarge, Runtime.TruncatedResponse or
	// Runtime.InvalidResponseModeHeader, whose Payload the platform made.
	ErrorType string
	Started   time.Time // when the event was handed to the runtime (/next)
	Finished  time.Time // when /response or /error arrived
}

// InitError is returned by WaitReady when the runtime posts
// /runtime/init/error.
type InitError struct {
	ErrorType string // validated like Result.ErrorType
	Payload   []byte // the body, verbatim
}

func (e *InitError) Error() string { return "runtime init failed: " + e.ErrorType }

// WaitReady blocks until the runtime's first GET /next (init finished). It
// returns *InitError if the runtime posted /runtime/init/error first,
// ErrClosed after Close, or context.Cause(ctx) if ctx ends first. Once init
// has ended it returns at once.
func (s *Server) WaitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.initErr != nil {
			return s.initErr
		}
		return nil
	case <-s.closed:
		return fmt.Errorf("wait ready: %w", ErrClosed)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Invoke hands inv to the runtime (delivering it to the waiting or next
// GET /next) and blocks until the runtime POSTs /response or /error for
// inv.RequestID.
//
// If ctx ends first it returns context.Cause(ctx) and the server is left
// Failed: every later call errors and the caller discards the env. When
// the runtime had not yet taken the event, the error also wraps
// ErrNotDelivered. A ctx
// that has already ended when Invoke is called changes nothing. Only one
// Invoke runs at a time; a concurrent call returns ErrBusy at once. Before
// init ends Invoke returns ErrNotReady, after an init error the *InitError.
//
// A response over MaxResponseBytes is not an error here: the Result has
// ErrorType Function.ResponseSizeTooLarge and Lambda's error payload.
func (s *Server) Invoke(ctx context.Context, inv Invocation) (Result, error) {
	if ctx.Err() != nil {
		return Result{}, context.Cause(ctx)
	}
	s.mu.Lock()
	if err := s.startLocked(&inv); err != nil {
		s.mu.Unlock()
		return Result{}, err
	}
	s.mu.Unlock()

	select {
	case <-s.done:
		return s.finish(), nil
	case <-ctx.Done():
		s.mu.Lock()
		if s.answered { // the answer won the race; keep it
			s.mu.Unlock()
			<-s.done
			return s.finish(), nil
		}
		delivered := s.st != stateQueued
		s.fireLocked(eventFail) // Queued or Invoking; Closed stays Closed
		s.invoking = false
		s.inv.Payload = nil
		s.mu.Unlock()
		s.log.Debug("invoke ended before the runtime answered", "requestId", inv.RequestID, "delivered", delivered, "cause", context.Cause(ctx))
		if !delivered {
			return Result{}, fmt.Errorf("%w: %w", ErrNotDelivered, context.Cause(ctx))
		}
		return Result{}, context.Cause(ctx)
	case <-s.closed:
		s.mu.Lock()
		s.invoking = false
		s.mu.Unlock()
		return Result{}, fmt.Errorf("invoke: %w", ErrClosed)
	}
}

// startLocked queues inv or hands it to the waiting /next.
func (s *Server) startLocked(inv *Invocation) error {
	if s.invoking {
		return fmt.Errorf("invoke: %w", ErrBusy)
	}
	if !s.fireLocked(eventInvoke) {
		switch s.st {
		case stateInit:
			return fmt.Errorf("invoke: %w", ErrNotReady)
		case stateInitFailed:
			return fmt.Errorf("invoke: %w", s.initErr)
		case stateFailed:
			return fmt.Errorf("invoke: %w", ErrFailed)
		case stateClosed:
			return fmt.Errorf("invoke: %w", ErrClosed)
		}
		return fmt.Errorf("invoke: runtime api in state %s", s.st)
	}
	s.inv = *inv
	s.res = Result{}
	s.invoking = true
	s.answered = false
	if s.st == stateInvoking {
		s.res.Started = time.Now()
		s.wake <- struct{}{} // never blocks: one /next waits, and it drains wake
	}
	return nil
}

// finish collects the answer after done fired and ends the Invoke.
func (s *Server) finish() Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.res
	s.res = Result{}
	s.invoking = false
	return res
}

// answerLocked records the answer to the in-flight invocation and wakes
// Invoke. It returns the 403 to send when the state does not allow it, or
// the 400 when id is no longer the in-flight one.
func (s *Server) answerLocked(id string, payload []byte, errType string) (reply, bool) {
	s.answering = false
	if id != s.inv.RequestID {
		return replyInvalidRequestID, false
	}
	if from := s.st; !s.fireLocked(eventAnswer) {
		return denied(from, eventAnswer), false
	}
	s.res.Payload = payload
	s.res.ErrorType = errType
	s.res.Finished = time.Now()
	s.answered = true
	s.inv.Payload = nil // the caller's buffer: do not keep it alive
	select {
	case s.done <- struct{}{}:
	default: // cannot happen: Invoking implies one Invoke waits and done is empty
	}
	return replyAccepted, true
}

// checkAnswer validates a /response or /error before its body is read:
// 400 when id is not the in-flight request, 403 when the state does not
// take an answer.
func (s *Server) checkAnswer(id string) (reply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" || id != s.inv.RequestID {
		return replyInvalidRequestID, false
	}
	if _, ok := s.st.on(eventAnswer); !ok || s.answering {
		// One answer is read at a time: a runtime that posts many at once
		// cannot make the server buffer many bodies.
		return denied(s.st, eventAnswer), false
	}
	s.answering = true
	return reply{}, true
}

// answer is answerLocked under the lock.
func (s *Server) answer(id string, payload []byte, errType string) (reply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answerLocked(id, payload, errType)
}
