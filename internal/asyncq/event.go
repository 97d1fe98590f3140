package asyncq

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/invoke"
)

// Message headers of a queued event.
const (
	hdrRequestID  = "Gust-Request-Id"
	hdrFunction   = "Gust-Function"
	hdrQualifier  = "Gust-Qualifier"
	hdrInvokedARN = "Gust-Invoked-Arn"
	hdrTraceID    = "Gust-Trace-Id"
	hdrHops       = "Gust-Hops"
	hdrEnqueued   = "Gust-Enqueued"   // unix ms of the original accept
	hdrAttempts   = "Gust-Attempts"   // invocations that ended in a function error
	hdrInvokes    = "Gust-Invokes"    // invocations that reached the function
	hdrNotBefore  = "Gust-Not-Before" // unix ms; not delivered earlier
)

// event is one queued async invocation and its delivery history.
type event struct {
	invoke.AsyncEvent
	Enqueued  time.Time
	Attempts  int // function errors so far
	Invokes   int // approximate invoke count so far
	NotBefore time.Time
}

func subject(function string) string { return "gust.async." + function }

// msg encodes e for the function's subject.
func (e *event) msg() *nats.Msg {
	m := nats.NewMsg(subject(e.Function))
	m.Data = e.Payload
	h := m.Header
	h.Set(hdrRequestID, e.RequestID)
	h.Set(hdrFunction, e.Function)
	if e.Qualifier != "" {
		h.Set(hdrQualifier, e.Qualifier)
	}
	h.Set(hdrInvokedARN, e.InvokedARN)
	if e.TraceID != "" {
		h.Set(hdrTraceID, e.TraceID)
	}
	h.Set(hdrHops, strconv.Itoa(e.Hops))
	h.Set(hdrEnqueued, strconv.FormatInt(e.Enqueued.UnixMilli(), 10))
	h.Set(hdrAttempts, strconv.Itoa(e.Attempts))
	h.Set(hdrInvokes, strconv.Itoa(e.Invokes))
	if !e.NotBefore.IsZero() {
		h.Set(hdrNotBefore, strconv.FormatInt(e.NotBefore.UnixMilli(), 10))
	}
	return m
}

// decodeEvent reads an event back from a delivered message.
func decodeEvent(m jetstream.Msg) (*event, error) {
	h := m.Headers()
	e := &event{AsyncEvent: invoke.AsyncEvent{
		Function:   h.Get(hdrFunction),
		Qualifier:  h.Get(hdrQualifier),
		InvokedARN: h.Get(hdrInvokedARN),
		RequestID:  h.Get(hdrRequestID),
		Payload:    m.Data(),
		TraceID:    h.Get(hdrTraceID),
	}}
	if e.Function == "" || e.RequestID == "" {
		return nil, fmt.Errorf("async event on %s: missing %s or %s", m.Subject(), hdrFunction, hdrRequestID)
	}
	var err error
	num := func(name string) int64 {
		v := h.Get(name)
		if v == "" || err != nil {
			return 0
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil {
			err = fmt.Errorf("async event %s: header %s: %w", e.RequestID, name, perr)
		}
		return n
	}
	e.Hops = int(num(hdrHops))
	e.Enqueued = time.UnixMilli(num(hdrEnqueued))
	e.Attempts = int(num(hdrAttempts))
	e.Invokes = int(num(hdrInvokes))
	if nb := num(hdrNotBefore); nb > 0 {
		e.NotBefore = time.UnixMilli(nb)
	}
	return e, err
}
