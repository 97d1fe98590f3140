package pubsub

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"gust/internal/lambda"
	"gust/internal/lazyre"
)

// Brokers a topic can be backed by.
const (
	BrokerNATS = "nats"
	BrokerMQTT = "mqtt"
)

// Filter policy scopes, as SNS names them.
const (
	ScopeMessageAttributes = "MessageAttributes"
	ScopeMessageBody       = "MessageBody"
)

// MaxSubscriptions bounds the subscriptions of one topic: a topic and its
// subscriptions are one KV record, changed with one compare-and-set.
const MaxSubscriptions = 100

// Topic is a pub/sub topic: the broker subject or topic its messages come
// from, and the functions subscribed to it. URL carries the broker's
// credentials: it is a secret, never returned by the API nor logged (see
// Topic.Redacted). A topic's broker settings never change after it is
// created; its subscriptions do.
type Topic struct {
	Name   string
	Broker string // BrokerNATS or BrokerMQTT
	URL    string `json:"Url"` // nats://, tls://, tcp://, ssl://, ws://, wss:// with credentials
	// Subject is the NATS subject published to (wildcards allowed).
	Subject string `json:",omitempty"`
	// Stream is the JetStream stream that captures Subject on the user's
	// NATS (default "GUST_TOPIC_<Name>"); created when missing.
	Stream string `json:",omitempty"`
	// MQTTTopic is the MQTT topic filter subscribed to (wildcards allowed).
	MQTTTopic string `json:"MqttTopic,omitempty"`
	Created   time.Time
	// Subscriptions are the functions the topic fans out to.
	Subscriptions []Subscription `json:",omitempty"`
}

// Subscription subscribes one function to a topic.
type Subscription struct {
	// ID is the subscription's UUID, the last part of its ARN.
	ID string `json:"SubscriptionId"`
	// Endpoint is the function's ARN, qualified or not, as SNS names a
	// lambda subscription's endpoint.
	Endpoint string
	// FilterPolicy is an SNS filter policy (JSON); empty delivers every
	// message.
	FilterPolicy string `json:",omitempty"`
	// FilterPolicyScope is ScopeMessageAttributes (the default) or
	// ScopeMessageBody.
	FilterPolicyScope string `json:",omitempty"`
	Created           time.Time
}

// ARN is the topic's SNS ARN.
func (t *Topic) ARN(id lambda.Identity) string {
	return "arn:aws:sns:" + id.Region + ":" + id.Account + ":" + t.Name
}

// SubscriptionARN is the ARN of one of the topic's subscriptions, which
// SNS puts in every record as EventSubscriptionArn.
func (t *Topic) SubscriptionARN(id lambda.Identity, subscriptionID string) string {
	return t.ARN(id) + ":" + subscriptionID
}

// subscription returns the subscription with id, or nil.
func (t *Topic) subscription(id string) *Subscription {
	for i := range t.Subscriptions {
		if t.Subscriptions[i].ID == id {
			return &t.Subscriptions[i]
		}
	}
	return nil
}

// Redacted is t with the password of its URL masked as "****", for
// everything that leaves the server.
func (t Topic) Redacted() Topic {
	t.URL = RedactURL(t.URL)
	t.Subscriptions = slices.Clone(t.Subscriptions)
	return t
}

// RedactURL masks the credentials of a broker URL: a password becomes
// "****", and so does a user name given without one, which may be the
// credential itself (a NATS token, nats://TOKEN@host). A URL that does not
// parse is replaced whole, since where its secret lies is unknown.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User == nil {
		return u.String()
	}
	// net/url would escape "*" in the user info: mask with a marker and
	// swap it for the stars afterwards.
	const marker = "REDACTEDSECRET"
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), marker)
	} else if u.User.Username() != "" {
		u.User = url.User(marker)
	}
	return strings.Replace(u.String(), marker+"@", "****@", 1)
}

// validTopicName is SNS's alphabet and length for standard topic names;
// it also suits KV keys and JetStream names.
var validTopicName = lazyre.New(`^[A-Za-z0-9_-]{1,256}$`)

// validStreamName is what JetStream accepts as a stream name, kept to a
// safe alphabet.
var validStreamName = lazyre.New(`^[A-Za-z0-9_-]{1,255}$`)

// brokerSchemes are the URL schemes each broker's client dials.
var brokerSchemes = map[string][]string{
	BrokerNATS: {"nats", "tls"},
	BrokerMQTT: {"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"},
}

// validate checks a topic before it is stored and fills its defaults. No
// message quotes the URL: it may hold a password.
func (t *Topic) validate() error {
	bad := lambda.KindInvalidParameterValue.Errorf
	if !validTopicName.MatchString(t.Name) {
		return bad("Invalid topic name %q: use 1 to 256 characters from [A-Za-z0-9_-].", t.Name)
	}
	schemes, known := brokerSchemes[t.Broker]
	if !known {
		return bad("Unsupported broker %q: use nats or mqtt.", t.Broker)
	}
	u, err := url.Parse(t.URL)
	if err != nil || u.Host == "" {
		return bad("Invalid broker URL for topic %s.", t.Name)
	}
	if !slices.Contains(schemes, u.Scheme) {
		return bad("A %s topic needs a URL with scheme %s.", t.Broker, strings.Join(schemes, ", "))
	}
	if len(t.Subscriptions) > 0 {
		return bad("Create a topic without subscriptions, then subscribe functions to it.")
	}
	switch t.Broker {
	case BrokerNATS:
		return t.validateNATS()
	default:
		return t.validateMQTT()
	}
}

func (t *Topic) validateNATS() error {
	bad := lambda.KindInvalidParameterValue.Errorf
	if t.MQTTTopic != "" {
		return bad("A NATS topic reads a subject, not an MQTT topic.")
	}
	if !validSubject(t.Subject) {
		return bad("Invalid NATS subject %q: use dot-separated tokens without spaces; * matches one token, > the rest.", t.Subject)
	}
	if t.Stream == "" {
		t.Stream = "GUST_TOPIC_" + t.Name
	}
	if !validStreamName.MatchString(t.Stream) {
		return bad("Invalid JetStream stream name %q: use 1 to 255 characters from [A-Za-z0-9_-].", t.Stream)
	}
	return nil
}

func (t *Topic) validateMQTT() error {
	bad := lambda.KindInvalidParameterValue.Errorf
	if t.Subject != "" || t.Stream != "" {
		return bad("An MQTT topic reads an MQTT topic filter, not a NATS subject or stream.")
	}
	if !validMQTTFilter(t.MQTTTopic) {
		return bad("Invalid MQTT topic filter %q: + matches one level, # the rest (last level only), and $ topics cannot be shared.", t.MQTTTopic)
	}
	return nil
}

// validSubject checks a NATS subject or subject filter: non-empty tokens
// separated by dots, no whitespace, ">" only last.
func validSubject(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	tokens := strings.Split(s, ".")
	for i, tok := range tokens {
		if tok == "" || (tok == ">" && i != len(tokens)-1) {
			return false
		}
		if len(tok) > 1 && strings.ContainsAny(tok, "*>") {
			return false
		}
	}
	return true
}

// validMQTTFilter checks an MQTT topic filter: "+" a whole level, "#" only
// as the whole last level, no NUL, and not a "$" topic (the broker's own,
// which a shared subscription cannot name).
func validMQTTFilter(f string) bool {
	if f == "" || len(f) > 65535 || strings.ContainsRune(f, 0) || strings.HasPrefix(f, "$") {
		return false
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if (l == "#" && i != len(levels)-1) || (len(l) > 1 && strings.ContainsAny(l, "+#")) {
			return false
		}
	}
	return true
}

// subjectCovers reports whether the stream subject filter pattern captures
// every subject that subject (itself possibly a filter) matches.
func subjectCovers(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		switch {
		case tok == ">":
			return i < len(s)
		case i >= len(s):
			return false
		case s[i] == ">":
			return false
		case tok == "*":
			continue
		case tok != s[i]:
			return false
		}
	}
	return len(p) == len(s)
}
