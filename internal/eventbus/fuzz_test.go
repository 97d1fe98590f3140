package eventbus

import (
	"encoding/json"
	"log/slog"
	"testing"
)

// FuzzSelectPath: any event and any path PutTargets accepts select either
// nothing or a valid JSON value, without panicking.
func FuzzSelectPath(f *testing.F) {
	f.Add([]byte(`{"detail":{"a":{"b":[1,2]}}}`), "$.detail.a.b")
	f.Add([]byte(`{"detail":"x"}`), "$.detail.a")
	f.Add([]byte(`[1,2]`), "$.0")
	f.Add([]byte(`{"a":null}`), "$.a")
	f.Fuzz(func(t *testing.T, doc []byte, path string) {
		if !json.Valid(doc) || !inputPathPattern.MatchString(path) {
			return
		}
		got, ok := targetPayload(targetRecord{InputPath: path}, doc)
		if ok && !json.Valid(got) {
			t.Fatalf("selected %q from %s with %s: not JSON", got, doc, path)
		}
	})
}

// FuzzDecodePutEvents: the request decoding and per-entry validation of
// PutEvents never panic and answer every entry.
func FuzzDecodePutEvents(f *testing.F) {
	f.Add([]byte(`{"Entries":[{"Source":"s","DetailType":"t","Detail":"{}","Time":1.5e9}]}`))
	f.Add([]byte(`{"Entries":[{"Detail":"[1]"},{"Source":"aws.x","DetailType":"t","Detail":"{}"}]}`))
	f.Add([]byte(`{"Entries":[{"Source":"s","DetailType":"t","Detail":"{}","EventBusName":"arn:aws:events:us-east-1:1:event-bus/x"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in struct{ Entries []putEventsEntry }
		if decodeInput(body, &in) != nil || len(in.Entries) > maxPutEventEntries {
			return
		}
		// A bus with no rules: validation and the envelope, no delivery.
		log := slog.New(slog.DiscardHandler)
		b := &Bus{clock: wallClock{}, log: log, cache: newCache(log)}
		for _, e := range in.Entries {
			res := b.putEvent(t.Context(), e)
			if (res.EventId == "") == (res.ErrorCode == "") {
				t.Fatalf("entry %+v answered %+v: want exactly one of EventId and ErrorCode", e, res)
			}
		}
	})
}
