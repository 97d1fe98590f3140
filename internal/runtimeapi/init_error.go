package runtimeapi

import (
	"errors"
	"net/http"
)

// handleInitError serves POST /runtime/init/error: init failed. It is
// accepted only before the first /next; WaitReady then returns the
// *InitError. A body over the limit is replaced by Lambda's
// Function.ResponseSizeTooLarge payload (and the runtime gets 413); a body
// cut short leaves the payload empty (and the runtime gets 400). Either way
// init has failed.
func (s *Server) handleInitError(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st := s.st
	s.mu.Unlock()
	if _, ok := st.on(eventInitError); !ok {
		denied(st, eventInitError).write(w)
		return
	}
	body, err := readBody(r.Body, r.ContentLength, s.limit)
	ie := &InitError{ErrorType: validErrorType(headerValue(r.Header, hdrErrorType)), Payload: body}
	onOK := replyAccepted
	switch {
	case errors.Is(err, errTooLarge):
		ie.Payload, onOK = s.tooLargeBody, s.tooLarge
	case err != nil:
		s.log.Warn("init error body cut short", "err", err)
		onOK = replyTruncated
	}

	s.mu.Lock()
	rp := onOK
	if from := s.st; s.fireLocked(eventInitError) {
		s.initErr = ie
		close(s.ready)
	} else {
		rp = denied(from, eventInitError)
	}
	s.mu.Unlock()
	rp.write(w)
}
