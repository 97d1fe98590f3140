package runtimeapi

import (
	"net/http"
	"strconv"
	"time"
)

// handleNext serves GET /runtime/invocation/next: the runtime is ready for
// an event. The first call ends init. If an event is queued it is returned
// at once; otherwise the request waits until Invoke hands one over, the
// client leaves, or Close.
func (s *Server) handleNext(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	from := s.st
	if !s.fireLocked(eventNext) {
		s.mu.Unlock()
		s.log.Debug("next denied", "state", from)
		denied(from, eventNext).write(w)
		return
	}
	if from == stateInit {
		close(s.ready)
	}
	if s.st == stateInvoking { // an event was queued
		s.res.Started = time.Now()
		inv := s.inv
		s.mu.Unlock()
		s.deliver(w, &inv)
		return
	}
	s.mu.Unlock()

	select {
	case <-s.wake:
	case <-r.Context().Done():
		s.nextGone()
		return
	case <-s.closed:
		// Close is closing the connection; make sure the runtime sees a
		// broken connection, not an empty 200.
		panic(http.ErrAbortHandler)
	}
	s.mu.Lock()
	if s.st != stateInvoking { // Failed or Closed while waking up
		st := s.st
		s.mu.Unlock()
		if st == stateClosed {
			panic(http.ErrAbortHandler)
		}
		denied(st, eventNext).write(w)
		return
	}
	inv := s.inv
	s.mu.Unlock()
	s.deliver(w, &inv)
}

// nextGone handles a waiting /next whose client left. If Invoke handed the
// event over meanwhile, the event goes back to the queue for the next
// /next, so it is never lost.
func (s *Server) nextGone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.st {
	case statePolling:
		s.fireLocked(eventNextGone)
	case stateInvoking: // handed to this request (the only one waiting)
		<-s.wake // sent under mu, so it is there
		s.fireLocked(eventUndeliverable)
		s.log.Debug("next client left; event queued again", "requestId", s.inv.RequestID)
	}
}

// deliver writes inv as the /next response. When the write fails the
// event is queued again.
func (s *Server) deliver(w http.ResponseWriter, inv *Invocation) {
	if inv.OnDeliver != nil {
		inv.OnDeliver()
	}
	h := w.Header()
	// One backing array for every header value, and one string holding
	// both numbers, so the header block costs two allocations.
	vals := make([]string, 0, 9)
	set := func(key, v string) {
		if v != "" {
			vals = append(vals, v)
			h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	var num [40]byte
	nb := strconv.AppendInt(num[:0], inv.Deadline.UnixMilli(), 10)
	split := len(nb)
	nb = strconv.AppendInt(nb, int64(len(inv.Payload)), 10)
	nums := string(nb)

	set(hdrRequestID, inv.RequestID)
	set(hdrDeadlineMs, nums[:split])
	set(hdrFunctionARN, inv.InvokedFunctionARN)
	set(hdrTraceID, inv.TraceID)
	set(hdrClientContext, inv.ClientContext)
	set(hdrCognitoIdentity, inv.CognitoIdentity)
	set(hdrTenantID, inv.TenantID)
	if inv.ContentType == "" {
		h[hdrContentType] = jsonContentType
	} else {
		set(hdrContentType, inv.ContentType)
	}
	set(hdrContentLength, nums[split:])
	w.WriteHeader(http.StatusOK)

	_, err := w.Write(inv.Payload)
	if err == nil {
		if f, ok := w.(interface{ FlushError() error }); ok {
			err = f.FlushError()
		}
	}
	if err == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == stateInvoking && !s.answered && s.inv.RequestID == inv.RequestID {
		s.fireLocked(eventUndeliverable)
		s.log.Warn("event not delivered to the runtime; queued again", "requestId", inv.RequestID, "err", err)
	}
}
