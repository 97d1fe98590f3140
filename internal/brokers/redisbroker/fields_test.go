package redisbroker

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"gust/internal/brokers"
)

func TestMessageParts(t *testing.T) {
	tests := []struct {
		name      string
		fields    map[string]string
		wantBody  string
		wantAttrs map[string]string
	}{
		{"body and attributes", map[string]string{"body": "hi", "color": "red"}, "hi", map[string]string{"color": "red"}},
		{"body only", map[string]string{"body": "hi"}, "hi", nil},
		{"data when no body", map[string]string{"data": "d", "n": "1"}, "d", map[string]string{"n": "1"}},
		{"body wins over data", map[string]string{"body": "b", "data": "d"}, "b", map[string]string{"data": "d"}},
		{"no body nor data: all fields as JSON", map[string]string{"b": "2", "a": "1"}, `{"a":"1","b":"2"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, attrs := messageParts(tt.fields)
			if string(body) != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
			if diff := cmp.Diff(tt.wantAttrs, attrs); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecordFromEntry(t *testing.T) {
	const id = "1700000000000-7"
	seq, _ := SeqFromID(id)
	at := time.UnixMilli(1700000000000)
	tests := []struct {
		name   string
		values map[string]any
		want   brokers.Record
	}{
		{"data and partitionKey", map[string]any{"data": "x", "partitionKey": "p", "key": "k"},
			brokers.Record{Seq: seq, PartitionKey: "p", Data: []byte("x"), Arrival: at}},
		{"key when no partitionKey", map[string]any{"data": "x", "key": "k"},
			brokers.Record{Seq: seq, PartitionKey: "k", Data: []byte("x"), Arrival: at}},
		{"neither: id as key, fields as JSON", map[string]any{"n": "1", "body": "b"},
			brokers.Record{Seq: seq, PartitionKey: id, Data: []byte(`{"body":"b","n":"1"}`), Arrival: at}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := recordFromEntry(redis.XMessage{ID: id, Values: tt.values})
			if err != nil {
				t.Fatalf("recordFromEntry: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := recordFromEntry(redis.XMessage{ID: "bad"}); err == nil {
		t.Error("recordFromEntry with a malformed id: want an error")
	}
}

func TestFieldStrings(t *testing.T) {
	got := fieldStrings(map[string]any{"s": "v", "b": []byte("raw"), "n": int64(3), "nil": nil})
	want := map[string]string{"s": "v", "b": "raw", "n": "3", "nil": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fieldStrings (-want +got):\n%s", diff)
	}
}

func TestDeadLetterValuesNameSource(t *testing.T) {
	vals := deadLetterValues(map[string]string{"body": "b", "sourceId": "forged"}, "orders", "1-1")
	got := map[string]any{}
	for i := 0; i+1 < len(vals); i += 2 {
		got[vals[i].(string)] = vals[i+1]
	}
	want := map[string]any{"body": "b", "sourceStream": "orders", "sourceId": "1-1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dead-letter fields (-want +got):\n%s", diff)
	}
	if len(vals) != 6 {
		t.Errorf("dead-letter values %q: want 3 fields, no duplicate names", vals)
	}
}
