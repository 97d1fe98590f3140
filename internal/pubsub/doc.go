// Package pubsub fans messages out to functions as SNS does: a topic is
// backed by a NATS subject (captured by a JetStream stream on the user's
// NATS, so nothing published while Gust is down is lost) or by an MQTT
// topic (QoS 1, acknowledged only once Gust owns the event); every
// function subscribed to it gets one SNS-shaped record per message
// through the async path (retries, destinations, dead-letter queues),
// filtered by its subscription's filter policy. Topics and subscriptions
// live in the "<prefix>_topics" KV bucket.
//
// # Storage
//
// A topic and its subscriptions are one record, "topic.<name>", changed
// with compare-and-set (natsd.UpdateJSON), so several nodes may share the
// bucket. A topic's ARN is arn:aws:sns:<region>:<account>:<name>; a
// subscription's is the topic ARN followed by ":<uuid>". The broker URL
// holds credentials: Topic.Redacted masks them for every answer, and no
// log line or error message quotes a URL (scrub).
//
// # Consumers
//
// Start watches the bucket; each node runs one runner per topic, started
// and stopped as topics come and go on any node, and given the current
// subscriptions on every change (a node applies its own writes at once).
// A runner connects to the topic's broker and reconnects after a failure
// with backoff (ReconnectBase doubling to 30 s); a broker never stops the
// server.
//
//   - NATS: CreateTopic makes sure the stream (default GUST_TOPIC_<name>)
//     exists and captures the subject — creating it, file-backed, seven
//     days' retention, when missing, and refusing an existing stream that
//     does not capture the subject — and creates the durable consumer
//     "gust-topic-<name>" with DeliverNew, so an existing stream is not
//     replayed. Every node pulls from that one consumer, so each message
//     goes to one node (work distribution). A message is acknowledged
//     only after every subscriber's event is queued in Gust; while a
//     delivery is retried the node renews the message's AckWait (30 s);
//     on shutdown it is given back (Nak) for another node. DeleteTopic
//     deletes the consumer and leaves the stream.
//   - MQTT: each node keeps a persistent session (CleanSession false,
//     client id "gust-<node>-<topic>") with a QoS 1 shared subscription
//     "$share/gust/<filter>" (Mosquitto 2 supports it for MQTT 3.1.1), so
//     the broker spreads messages over the nodes and queues a node's
//     share while it is away, and acknowledges manually
//     (SetAutoAckDisabled) once every event is queued. The broker counts
//     an absent node's session in the rotation: its share waits until the
//     node comes back, or until its session is removed (a deleted topic's
//     sessions are cleared by each node). Messages published with QoS 0
//     are delivered at most once.
//
// # Events
//
// Each matching subscription gets {"Records":[{EventSource "aws:sns",
// EventVersion "1.0", EventSubscriptionArn, Sns{Type "Notification",
// MessageId, TopicArn, Subject, Message, Timestamp, SignatureVersion "1",
// Signature, SigningCertUrl, UnsubscribeUrl, MessageAttributes}}]} as an
// Event invocation (invoke.TypeEvent), so the async queue applies the
// function's retries, destinations and dead-letter queue. MessageId is a
// UUID derived from the broker message (NATS: stream and sequence; MQTT
// QoS 1: session, packet id and payload), so a redelivery carries the
// same id. Timestamp is the stream's time for NATS and the time of
// receipt for MQTT. A NATS header "Subject" becomes Subject (null
// without one, as SNS sends it); every other header, except the server's
// "Nats-" headers, becomes a String attribute, or the type that header
// Gust-Attribute-Types names ("price=Number,tags=String.Array"). MQTT
// 3.1.1 messages have no headers: no Subject, no attributes. Signature is
// a digest of what SNS signs, not a signature (Gust holds no SNS key);
// SigningCertUrl and UnsubscribeUrl point to a gust.invalid host.
//
// Before each delivery the function's resource policy must allow
// sns.amazonaws.com lambda:InvokeFunction (with aws:SourceArn the topic),
// as Lambda checks for SNS; an event refused for it — or by the invoke
// service for good (a deleted function, an event over 1 MB) — is logged
// and counted (Stats), never retried. Queueing that fails for a platform
// fault is retried with backoff (RetryBase doubling to 5 s). Delivery is
// at least once: a node stopped in the middle of a fan-out leaves the
// message unacknowledged, and subscribers it had served get it again.
//
// # Filter policies
//
// A subscription's FilterPolicy is compiled by eventpattern, the event
// pattern language SNS filter policies share: exact strings and numbers,
// prefix, suffix, equals-ignore-case, anything-but, numeric, exists,
// cidr and $or. With FilterPolicyScope MessageAttributes (the default)
// it is matched against the attributes, name → value (Number as a
// number, String.Array as an array, Binary left out) and must be flat, as
// SNS requires; with MessageBody against the body, which must be a JSON
// object. Where the two languages differ, Gust follows eventpattern:
// wildcard is accepted, SNS's limits (5 keys, 150 combinations, 256 KB)
// are not enforced but a policy is at most 4,096 characters, and a
// Number attribute compares only with numbers.
//
// # Goroutines
//
// Start starts the watch goroutine; each runner has one goroutine, plus
// Options.Workers delivery goroutines while connected (the NATS and MQTT
// clients run their own). Close cancels them all, lets deliveries under
// way finish queueing, and waits.
package pubsub
