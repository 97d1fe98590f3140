package eventbus

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// putEventsEntry is one PutEventsRequestEntry.
type putEventsEntry struct {
	Source       *string
	DetailType   *string
	Detail       *string
	Resources    []string
	Time         *epochSeconds
	EventBusName *string
	TraceHeader  *string
}

// putEventsResult is one PutEventsResultEntry: an EventId, or an error.
type putEventsResult struct {
	EventId      string `json:",omitempty"`
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

// putEvents accepts up to 10 events. Each valid entry is matched against
// the enabled pattern rules of its bus and queued to their targets before
// the answer goes out; an invalid entry fails on its own. An entry for a
// bus that does not exist is accepted and goes nowhere, as in EventBridge.
func (b *Bus) putEvents(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Entries    []putEventsEntry
		EndpointId *string
	}
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	if in.Entries == nil {
		return nil, notNull("entries")
	}
	if len(in.Entries) == 0 || len(in.Entries) > maxPutEventEntries {
		return nil, kindValidation.Errorf("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and %d", maxPutEventEntries)
	}
	if in.EndpointId != nil {
		return nil, kindValidation.Errorf("Global endpoints (EndpointId) are not supported by Gust.")
	}
	size := 0
	for _, e := range in.Entries {
		size += entrySize(e)
	}
	if size > maxPutEventsBytes {
		return nil, kindValidation.Errorf("Total size of the entries in the request is over the limit.")
	}
	out := struct {
		FailedEntryCount int
		Entries          []putEventsResult
	}{Entries: make([]putEventsResult, 0, len(in.Entries))}
	for _, e := range in.Entries {
		res := b.putEvent(ctx, e)
		if res.ErrorCode != "" {
			out.FailedEntryCount++
		}
		out.Entries = append(out.Entries, res)
	}
	return out, nil
}

// entrySize is an entry's size as EventBridge counts it against the
// 256 KB limit.
func entrySize(e putEventsEntry) int {
	n := len(deref(e.Source)) + len(deref(e.DetailType)) + len(deref(e.Detail))
	if e.Time != nil {
		n += 14
	}
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

func (b *Bus) putEvent(ctx context.Context, e putEventsEntry) putEventsResult {
	fail := func(code, msg string) putEventsResult { return putEventsResult{ErrorCode: code, ErrorMessage: msg} }
	required := func(member string) putEventsResult {
		return fail(entryInvalidArgument, "Parameter "+member+" is not valid. Reason: "+member+" is a required argument.")
	}
	switch {
	case deref(e.Source) == "":
		return required("Source")
	case deref(e.DetailType) == "":
		return required("DetailType")
	case e.Detail == nil:
		return required("Detail")
	case len(*e.Source) > 256:
		return fail(entryInvalidArgument, "Parameter Source is not valid. Reason: Source exceeds 256 characters.")
	case len(*e.DetailType) > 128:
		return fail(entryInvalidArgument, "Parameter DetailType is not valid. Reason: DetailType exceeds 128 characters.")
	case strings.HasPrefix(*e.Source, "aws."):
		return fail(entryNotAuthorized, "Not authorized for the source.")
	}
	detail := bytes.TrimSpace([]byte(*e.Detail))
	if !json.Valid(detail) || len(detail) == 0 || detail[0] != '{' {
		return fail(entryMalformedDetail, "Detail is malformed.")
	}
	bus, err := b.resolveBus(e.EventBusName, "EventBusName")
	if err != nil {
		msg := err.Error()
		if e, ok := asWireError(err); ok {
			msg = e.Message
		}
		return fail(entryInvalidArgument, "Parameter EventBusName is not valid. Reason: "+msg)
	}
	at := b.clock.Now()
	if e.Time != nil {
		at = time.Time(*e.Time)
	}
	ev := envelope{
		Version:    "0",
		ID:         uuid.NewString(),
		DetailType: *e.DetailType,
		Source:     *e.Source,
		Account:    b.id.Account,
		Time:       eventTime(at),
		Region:     b.id.Region,
		Resources:  e.Resources,
		Detail:     detail,
	}
	event, err := ev.encode()
	if err != nil {
		return fail(entryMalformedDetail, "Detail is malformed.")
	}
	for _, r := range b.cache.rulesOn(bus) {
		if r.pattern == nil || !r.rec.enabled() || len(r.rec.Targets) == 0 {
			continue
		}
		match, err := r.pattern.Matches(event)
		if err != nil {
			b.log.Debug("event not matched", "rule", r.rec.Name, "event_id", ev.ID, "err", err)
			continue
		}
		if !match {
			continue
		}
		if err := b.deliver(ctx, r, event, ev.ID); err != nil {
			b.log.Error("event not delivered", "rule", r.rec.Name, "bus", bus, "event_id", ev.ID, "err", err)
			return fail(entryInternalFailure, "Internal Failure")
		}
	}
	return putEventsResult{EventId: ev.ID}
}
