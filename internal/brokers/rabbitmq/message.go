package rabbitmq

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"

	"gust/internal/brokers"
)

// deliveryCountHeader is the header in which a quorum queue reports how
// often it has handed the message out before. RabbitMQ 3.10 leaves it out
// of the first delivery to a consumer (basic.get shows 0) and sets it to
// 1 on the first redelivery, 2 on the next, and so on; both nack-requeue
// and a channel closing with the message unsettled count.
const deliveryCountHeader = "x-delivery-count"

// acquiredCountHeader is the counterpart that RabbitMQ 4 adds for every
// hand-out. Like deliveryCountHeader it changes from one delivery to the
// next, so it is left out of derived message ids.
const acquiredCountHeader = "x-acquired-count"

// message converts a delivery into the broker-neutral message.
func (q *Queue) message(d amqp.Delivery) *brokers.Message {
	return &brokers.Message{
		ID:           messageID(d),
		Body:         d.Body,
		ReceiveCount: receiveCount(d),
		SentAt:       utc(d.Timestamp),
		Attributes:   attributes(d.Headers),
		AMQP:         properties(d, q.name),
		Settle:       &settler{q: q, tag: d.DeliveryTag},
	}
}

// receiveCount is how often the message has been delivered, this time
// included: one more than the quorum queue's x-delivery-count. A classic
// queue has no such header and only says whether the message was
// delivered before, so its count stops at 2.
func receiveCount(d amqp.Delivery) int {
	n := 1
	if d.Redelivered {
		n = 2
	}
	if c, ok := headerCount(d.Headers[deliveryCountHeader]); ok && c >= int64(n) {
		n = int(min(c, math.MaxInt32-1)) + 1
	}
	return n
}

// headerCount reads a non-negative integer header of any integer type.
func headerCount(v any) (int64, bool) {
	var n int64
	switch x := v.(type) {
	case int8:
		n = int64(x)
	case int16:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case int:
		n = int64(x)
	case uint8:
		n = int64(x)
	case uint16:
		n = int64(x)
	case uint32:
		n = int64(x)
	case uint64:
		n = int64(min(x, math.MaxInt64))
	default:
		return 0, false
	}
	return n, n >= 0
}

// messageID is the message-id property when the publisher set one.
// Otherwise it is derived from what stays the same across redeliveries:
// body, headers (less the delivery counters), the other properties, and
// the exchange and routing key it was published with, hashed with SHA-256
// and shaped as a version 8 UUID. Two messages published with identical
// content and properties and no timestamp (the timestamp has one-second
// resolution) get the same id; publishers that need to tell them apart
// set message-id.
func messageID(d amqp.Delivery) string {
	if d.MessageId != "" {
		return d.MessageId
	}
	h := sha256.New()
	writeCanonical(h, d.Body)
	writeCanonical(h, withoutCounters(d.Headers))
	var ts int64
	if !d.Timestamp.IsZero() {
		ts = d.Timestamp.Unix()
	}
	for _, v := range []any{
		ts, d.CorrelationId, d.ContentType, d.ContentEncoding, d.Type, d.AppId,
		d.UserId, d.ReplyTo, d.Expiration, d.Priority, d.DeliveryMode,
		d.Exchange, d.RoutingKey,
	} {
		writeCanonical(h, v)
	}
	return uuidV8(h.Sum(nil))
}

// withoutCounters returns headers less the per-delivery counters.
func withoutCounters(headers amqp.Table) map[string]any {
	out := make(map[string]any, len(headers))
	for k, v := range headers {
		if k != deliveryCountHeader && k != acquiredCountHeader {
			out[k] = v
		}
	}
	return out
}

// writeCanonical writes v to h in an unambiguous form: every value is
// tagged with its kind and strings carry their length, and table keys are
// sorted, so equal values always hash alike.
func writeCanonical(h hash.Hash, v any) {
	switch x := v.(type) {
	case nil:
		fmt.Fprint(h, "N;")
	case string:
		fmt.Fprintf(h, "S%d:%s", len(x), x)
	case []byte:
		fmt.Fprintf(h, "X%d:", len(x))
		h.Write(x)
	case amqp.Table:
		writeCanonical(h, map[string]any(x))
	case map[string]any:
		fmt.Fprintf(h, "F%d:", len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			writeCanonical(h, k)
			writeCanonical(h, x[k])
		}
	case []any:
		fmt.Fprintf(h, "A%d:", len(x))
		for _, e := range x {
			writeCanonical(h, e)
		}
	case time.Time:
		fmt.Fprintf(h, "T%d;", x.Unix())
	default:
		s := fmt.Sprintf("%T=%v", x, x)
		fmt.Fprintf(h, "V%d:%s", len(s), s)
	}
}

// uuidV8 shapes the first 16 bytes of sum as an RFC 9562 version 8 UUID.
func uuidV8(sum []byte) string {
	var b [16]byte
	copy(b[:], sum)
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// attributes renders the headers as strings for the SQS-shaped event. The
// quorum queue's x-delivery-count is left out: ReceiveCount carries it,
// counted from 1. AMQP.Headers keeps every header as the broker sent it.
func attributes(headers amqp.Table) map[string]string {
	out := make(map[string]string, len(headers))
	for k, v := range headers {
		if k != deliveryCountHeader {
			out[k] = headerString(v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// headerString renders one header value: text as is, binary that is not
// UTF-8 as standard base64, times as RFC 3339 in UTC, decimals exactly,
// tables and arrays as JSON, and anything else with fmt.
func headerString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return base64.StdEncoding.EncodeToString(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case amqp.Decimal:
		return decimalString(x)
	case amqp.Table, map[string]any, []any:
		b, err := json.Marshal(jsonValue(x))
		if err != nil {
			return fmt.Sprint(x) // a NaN or infinite float inside
		}
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

// jsonValue turns nested header values into ones that encoding/json
// renders the way headerString renders them at the top level.
func jsonValue(v any) any {
	switch x := v.(type) {
	case amqp.Table:
		return jsonValue(map[string]any(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case []byte, time.Time, amqp.Decimal:
		return headerString(x)
	default:
		return x
	}
}

// decimalString renders an AMQP decimal (Value × 10^-Scale) exactly.
func decimalString(d amqp.Decimal) string {
	digits := strconv.FormatInt(int64(d.Value), 10)
	sign := ""
	if d.Value < 0 {
		sign, digits = "-", digits[1:]
	}
	scale := int(d.Scale)
	if scale == 0 {
		return sign + digits
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	cut := len(digits) - scale
	return sign + digits[:cut] + "." + digits[cut:]
}

// properties copies the delivery's basic properties.
func properties(d amqp.Delivery, queue string) *brokers.AMQPProperties {
	var headers map[string]any
	if len(d.Headers) > 0 {
		headers = map[string]any(d.Headers)
	}
	return &brokers.AMQPProperties{
		ContentType:     d.ContentType,
		ContentEncoding: d.ContentEncoding,
		Headers:         headers,
		DeliveryMode:    d.DeliveryMode,
		Priority:        d.Priority,
		CorrelationID:   d.CorrelationId,
		ReplyTo:         d.ReplyTo,
		Expiration:      d.Expiration,
		MessageID:       d.MessageId,
		Timestamp:       utc(d.Timestamp),
		Type:            d.Type,
		UserID:          d.UserId,
		AppID:           d.AppId,
		Redelivered:     d.Redelivered,
		Queue:           queue,
	}
}

// utc returns t in UTC, keeping the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
