package redisbroker

import (
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"gust/internal/brokers"
)

// Field names with a meaning to the adapter. An entry without them is
// delivered whole, as a JSON object of all its fields.
const (
	fieldBody         = "body"
	fieldData         = "data"
	fieldPartitionKey = "partitionKey"
	fieldKey          = "key"
)

// Fields added to an entry copied to a dead-letter stream.
const (
	fieldSourceStream = "sourceStream"
	fieldSourceID     = "sourceId"
)

// fieldStrings returns an entry's fields as strings, whatever type the
// client decoded them to.
func fieldStrings(values map[string]any) map[string]string {
	out := make(map[string]string, len(values))
	for k, v := range values {
		switch v := v.(type) {
		case string:
			out[k] = v
		case []byte:
			out[k] = string(v)
		case nil:
			out[k] = ""
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// fieldsJSON renders all fields as one JSON object (keys sorted).
func fieldsJSON(fields map[string]string) []byte {
	// Marshalling a map[string]string cannot fail: invalid UTF-8 is
	// replaced, not rejected.
	b, _ := json.Marshal(fields)
	return b
}

// firstField returns the value of the first of names that the entry has.
func firstField(fields map[string]string, names ...string) (name, value string, ok bool) {
	for _, n := range names {
		if v, found := fields[n]; found {
			return n, v, true
		}
	}
	return "", "", false
}

// messageParts maps an entry's fields to a message body and attributes:
// the body is the "body" field, else the "data" field, and the other
// fields are the attributes; with neither, the body is all the fields as
// JSON and there are no attributes.
func messageParts(fields map[string]string) (body []byte, attrs map[string]string) {
	name, value, ok := firstField(fields, fieldBody, fieldData)
	if !ok {
		return fieldsJSON(fields), nil
	}
	for k, v := range fields {
		if k == name {
			continue
		}
		if attrs == nil {
			attrs = make(map[string]string, len(fields)-1)
		}
		attrs[k] = v
	}
	return []byte(value), attrs
}

// recordFromEntry maps a stream entry to a brokers.Record.
func recordFromEntry(e redis.XMessage) (brokers.Record, error) {
	seq, err := SeqFromID(e.ID)
	if err != nil {
		return brokers.Record{}, err
	}
	fields := fieldStrings(e.Values)
	rec := brokers.Record{Seq: seq, PartitionKey: e.ID, Arrival: idTime(e.ID)}
	if _, key, ok := firstField(fields, fieldPartitionKey, fieldKey); ok {
		rec.PartitionKey = key
	}
	if data, ok := fields[fieldData]; ok {
		rec.Data = []byte(data)
	} else {
		rec.Data = fieldsJSON(fields)
	}
	return rec, nil
}

// deadLetterValues is what goes to the dead-letter stream: the entry's
// fields plus where it came from, as flat XADD arguments.
func deadLetterValues(fields map[string]string, stream, id string) []any {
	out := make([]any, 0, 2*len(fields)+4)
	for k, v := range fields {
		if k == fieldSourceStream || k == fieldSourceID {
			continue
		}
		out = append(out, k, v)
	}
	return append(out, fieldSourceStream, stream, fieldSourceID, id)
}
