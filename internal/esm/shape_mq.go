package esm

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strings"
	"time"

	"gust/internal/brokers"
)

// mqShape renders messages as the records of Lambda's Amazon MQ for
// RabbitMQ event: {"eventSource":"aws:rmq","eventSourceArn":…,
// "rmqMessagesByQueue":{"<queue>::<vhost>":[…]}}.
type mqShape struct {
	start string // the event up to its first record
}

// mqEventEnd closes the record list, the queue map and the event.
const mqEventEnd = `]}}`

// newMQShape renders the events of mapping ARN arn, reading queue on the
// virtual host of brokerURL.
func newMQShape(arn, queue, brokerURL string) *mqShape {
	key := queue + "::" + mqVirtualHost(brokerURL)
	arnJSON, _ := json.Marshal(arn) // strings always encode
	keyJSON, _ := json.Marshal(key)
	return &mqShape{start: `{"eventSource":"aws:rmq","eventSourceArn":` + string(arnJSON) +
		`,"rmqMessagesByQueue":{` + string(keyJSON) + `:[`}
}

// mqVirtualHost is the virtual host an AMQP URL names: its path without
// the leading slash, unescaped ("%2F" is "/"), and "/" when there is none.
func mqVirtualHost(brokerURL string) string {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return "/"
	}
	vhost, err := url.PathUnescape(strings.TrimPrefix(u.EscapedPath(), "/"))
	if err != nil || vhost == "" {
		return "/"
	}
	return vhost
}

// mqRecord is one message of an Amazon MQ event.
type mqRecord struct {
	BasicProperties mqProperties `json:"basicProperties"`
	Redelivered     bool         `json:"redelivered"`
	Data            string       `json:"data"` // base64 of the body
}

// mqProperties are the AMQP basic properties as Lambda renders them: a
// property the message does not carry is null.
type mqProperties struct {
	ContentType     *string        `json:"contentType"`
	ContentEncoding *string        `json:"contentEncoding"`
	Headers         map[string]any `json:"headers"`
	DeliveryMode    *uint8         `json:"deliveryMode"`
	Priority        *uint8         `json:"priority"`
	CorrelationID   *string        `json:"correlationId"`
	ReplyTo         *string        `json:"replyTo"`
	Expiration      *string        `json:"expiration"`
	MessageID       *string        `json:"messageId"`
	Timestamp       *string        `json:"timestamp"`
	Type            *string        `json:"type"`
	UserID          *string        `json:"userId"`
	AppID           *string        `json:"appId"`
	ClusterID       *string        `json:"clusterId"` // deprecated in AMQP 0-9-1; always null
	BodySize        int            `json:"bodySize"`
}

// mqTimeLayout is how Lambda writes the timestamp property (Java's medium
// date-time format, in UTC).
const mqTimeLayout = "Jan 2, 2006, 3:04:05 PM"

func (sh *mqShape) payloadKey() string { return "data" }

func (sh *mqShape) envelopeSize() int { return len(sh.start) + len(mqEventEnd) }

// partialBatch: Lambda offers no partial batch response for Amazon MQ.
func (sh *mqShape) partialBatch() bool { return false }

func (sh *mqShape) event(records [][]byte) []byte {
	return shapeJoin(sh.start, records, mqEventEnd)
}

// record renders msg. A message from a broker other than RabbitMQ has
// no AMQP properties: they are all null.
func (sh *mqShape) record(msg *brokers.Message, _ time.Time) ([]byte, error) {
	rec := mqRecord{
		BasicProperties: mqProperties{BodySize: len(msg.Body)},
		Redelivered:     msg.ReceiveCount > 1,
		Data:            base64.StdEncoding.EncodeToString(msg.Body),
	}
	if p := msg.AMQP; p != nil {
		rec.Redelivered = p.Redelivered || rec.Redelivered
		bp := &rec.BasicProperties
		bp.ContentType = mqOptional(p.ContentType)
		bp.ContentEncoding = mqOptional(p.ContentEncoding)
		bp.DeliveryMode = mqOptionalUint8(p.DeliveryMode)
		bp.Priority = mqOptionalUint8(p.Priority)
		bp.CorrelationID = mqOptional(p.CorrelationID)
		bp.ReplyTo = mqOptional(p.ReplyTo)
		bp.Expiration = mqOptional(p.Expiration)
		bp.MessageID = mqOptional(p.MessageID)
		bp.Type = mqOptional(p.Type)
		bp.UserID = mqOptional(p.UserID)
		bp.AppID = mqOptional(p.AppID)
		if !p.Timestamp.IsZero() {
			bp.Timestamp = mqOptional(p.Timestamp.UTC().Format(mqTimeLayout))
		}
		if p.Headers != nil {
			bp.Headers = make(map[string]any, len(p.Headers))
			for k, v := range p.Headers {
				bp.Headers[k] = mqHeaderValue(v)
			}
		}
	}
	return shapeMarshal(rec)
}

// mqOptional is nil for "" (an absent AMQP property).
func mqOptional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// mqOptionalUint8 is nil for 0, which AMQP uses for "not set".
func mqOptionalUint8(n uint8) *uint8 {
	if n == 0 {
		return nil
	}
	return &n
}

// mqBytes is how Lambda renders an AMQP long string or byte array in
// headers: {"bytes":[118,97,…]}.
type mqBytes struct {
	Bytes []int `json:"bytes"`
}

func newMQBytes(b []byte) mqBytes {
	out := mqBytes{Bytes: make([]int, len(b))}
	for i, c := range b {
		out.Bytes[i] = int(c)
	}
	return out
}

// mqHeaderValue converts one AMQP header value (as the AMQP client decodes
// field tables, including its named table and array types) to what the
// event carries: strings and byte arrays as mqBytes, timestamps in the
// event's date format, tables and arrays converted recursively, numbers
// and booleans as they are. Anything else is rendered as text.
func mqHeaderValue(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case time.Time:
		return x.UTC().Format(mqTimeLayout)
	case []byte:
		return newMQBytes(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return newMQBytes([]byte(rv.String()))
	case reflect.Bool:
		return rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint()
	case reflect.Float32, reflect.Float64:
		if f := rv.Float(); !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			out := make(map[string]any, rv.Len())
			for it := rv.MapRange(); it.Next(); {
				out[it.Key().String()] = mqHeaderValue(it.Value().Interface())
			}
			return out
		}
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return newMQBytes(b)
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = mqHeaderValue(rv.Index(i).Interface())
		}
		return out
	}
	return newMQBytes([]byte(fmt.Sprint(v)))
}
