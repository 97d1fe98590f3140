// Package pubsub fans messages out to functions as SNS does: a topic is
// backed by a NATS subject (captured by a JetStream stream on the user's
// NATS, so nothing published while Gust is down is lost) or by an MQTT
// topic (QoS 1, acknowledged only once Gust owns the event); every
// function subscribed to it gets one SNS-shaped record per message
// through the async path (retries, destinations, dead-letter queues),
// filtered by its subscription's filter policy. Topics and subscriptions
// live in the "<prefix>_topics" KV bucket.
package pubsub
