package pubsub

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"gust/internal/lambda"
)

// SNS message attribute types.
const (
	AttributeString      = "String"
	AttributeNumber      = "Number"
	AttributeStringArray = "String.Array"
	AttributeBinary      = "Binary"
)

// Headers of a NATS message that are not message attributes.
const (
	// HeaderSubject becomes the record's Subject.
	HeaderSubject = "Subject"
	// HeaderAttributeTypes types other headers' attributes:
	// "price=Number,tags=String.Array,blob=Binary". An attribute it does
	// not name is a String.
	HeaderAttributeTypes = "Gust-Attribute-Types"
)

// timestampLayout is SNS's Timestamp: RFC 3339 in UTC with milliseconds.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// Attribute is one SNS message attribute as a record carries it.
type Attribute struct {
	Type  string
	Value string
}

// message is one broker message, broker-neutral.
type message struct {
	id         string // SNS MessageId: stable for every delivery of the message
	subject    *string
	body       []byte
	attributes map[string]Attribute
	published  time.Time
}

// messageID derives a UUID from what identifies a broker message, so that
// a redelivery of the message gets the same MessageId.
func messageID(topicARN string, parts ...string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("gust:pubsub:"+topicARN+":"+strings.Join(parts, ":"))).String()
}

// fromHeaders builds a message's Subject and attributes from NATS
// headers: Subject from HeaderSubject, every other header (its first
// value) an attribute, typed by HeaderAttributeTypes, except the NATS
// server's own "Nats-" headers. A value that does not fit its declared
// type is carried as a String.
func fromHeaders(h map[string][]string) (subject *string, attrs map[string]Attribute) {
	attrs = map[string]Attribute{}
	types := attributeTypes(first(h, HeaderAttributeTypes))
	for name, values := range h {
		if len(values) == 0 || name == HeaderAttributeTypes || strings.HasPrefix(strings.ToLower(name), "nats-") {
			continue
		}
		if name == HeaderSubject {
			s := values[0]
			subject = &s
			continue
		}
		attrs[name] = typedAttribute(types[name], values[0])
	}
	return subject, attrs
}

func first(h map[string][]string, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// attributeTypes parses "name=Type,name=Type".
func attributeTypes(spec string) map[string]string {
	out := map[string]string{}
	for part := range strings.SplitSeq(spec, ",") {
		name, typ, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			out[strings.TrimSpace(name)] = strings.TrimSpace(typ)
		}
	}
	return out
}

// typedAttribute is value as an attribute of type typ, or a String when
// value is not a valid typ.
func typedAttribute(typ, value string) Attribute {
	ok := false
	switch typ {
	case AttributeNumber:
		v, err := decodeJSONValue([]byte(value))
		_, ok = v.(json.Number)
		ok = ok && err == nil
	case AttributeStringArray:
		v, err := decodeJSONValue([]byte(value))
		_, ok = v.([]any)
		ok = ok && err == nil
	case AttributeBinary:
		_, err := base64.StdEncoding.DecodeString(value)
		ok = err == nil
	}
	if !ok {
		typ = AttributeString
	}
	return Attribute{Type: typ, Value: value}
}

// snsEvent is the event a subscribed function receives, fields in the
// order SNS writes them.
type snsEvent struct {
	Records []snsRecord `json:"Records"`
}

type snsRecord struct {
	EventSource          string    `json:"EventSource"`
	EventVersion         string    `json:"EventVersion"`
	EventSubscriptionArn string    `json:"EventSubscriptionArn"`
	Sns                  snsEntity `json:"Sns"`
}

type snsEntity struct {
	Type              string               `json:"Type"`
	MessageID         string               `json:"MessageId"`
	TopicArn          string               `json:"TopicArn"`
	Subject           *string              `json:"Subject"` // null without one, as SNS sends it
	Message           string               `json:"Message"`
	Timestamp         string               `json:"Timestamp"`
	SignatureVersion  string               `json:"SignatureVersion"`
	Signature         string               `json:"Signature"`
	SigningCertURL    string               `json:"SigningCertUrl"`
	UnsubscribeURL    string               `json:"UnsubscribeUrl"`
	MessageAttributes map[string]Attribute `json:"MessageAttributes"`
}

// buildEvent renders the event of one message for one subscription.
func buildEvent(id lambda.Identity, topicARN, subscriptionARN string, m *message) ([]byte, error) {
	attrs := m.attributes
	if attrs == nil {
		attrs = map[string]Attribute{}
	}
	e := snsEntity{
		Type:              "Notification",
		MessageID:         m.id,
		TopicArn:          topicARN,
		Subject:           m.subject,
		Message:           string(m.body),
		Timestamp:         m.published.UTC().Format(timestampLayout),
		SignatureVersion:  "1",
		SigningCertURL:    "https://sns." + id.Region + ".gust.invalid/SimpleNotificationService-gust.pem",
		UnsubscribeURL:    "https://sns." + id.Region + ".gust.invalid/?Action=Unsubscribe&SubscriptionArn=" + url.QueryEscape(subscriptionARN),
		MessageAttributes: attrs,
	}
	e.Signature = digest(&e)
	ev := snsEvent{Records: []snsRecord{{
		EventSource:          "aws:sns",
		EventVersion:         "1.0",
		EventSubscriptionArn: subscriptionARN,
		Sns:                  e,
	}}}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // SNS leaves <, > and & as they are
	if err := enc.Encode(ev); err != nil {
		return nil, fmt.Errorf("encode SNS event: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// digest fills Signature: base64 of the SHA-256 of the string SNS signs
// for a notification. Gust holds no SNS signing key, so it is not a
// signature anyone can verify; it only changes with what it covers.
func digest(e *snsEntity) string {
	var b strings.Builder
	field := func(name, value string) { b.WriteString(name + "\n" + value + "\n") }
	field("Message", e.Message)
	field("MessageId", e.MessageID)
	if e.Subject != nil {
		field("Subject", *e.Subject)
	}
	field("Timestamp", e.Timestamp)
	field("TopicArn", e.TopicArn)
	field("Type", e.Type)
	sum := sha256.Sum256([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(sum[:])
}
