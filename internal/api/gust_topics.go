package api

import (
	"context"
	"net/http"

	"gust/internal/lambda"
	"gust/internal/lazyre"
	"gust/internal/pubsub"
)

// Gust's own endpoints for pub/sub topics, used by `gust topic`. A topic
// is SNS's fan-out over a NATS subject or an MQTT topic; AWS's SNS API is
// a service of its own, so these live under /_gust/v1/. They are signed
// and authorized like the other /_gust/v1 endpoints: the account root may
// call them, anyone else needs an Allow for gust:CreateTopic,
// gust:ListTopics, gust:GetTopic, gust:DeleteTopic, gust:Subscribe,
// gust:ListSubscriptions or gust:Unsubscribe (resource "*").
//
//	POST   /_gust/v1/topics                         pubsub.Topic fields → 201 topicAnswer
//	GET    /_gust/v1/topics                         → {"Topics":[topicAnswer…]}
//	GET    /_gust/v1/topics/{name}                  → topicAnswer, with this node's Stats
//	DELETE /_gust/v1/topics/{name}                  → 204
//	POST   /_gust/v1/topics/{name}/subscriptions    {"Endpoint","FilterPolicy","FilterPolicyScope"} → 201 subscriptionAnswer
//	GET    /_gust/v1/topics/{name}/subscriptions    → {"Subscriptions":[subscriptionAnswer…]}
//	DELETE /_gust/v1/topics/{name}/subscriptions/{id} → 204
//
// A topic's URL carries the broker's credentials. No answer holds them:
// every topic leaves through pubsub.Topic.Redacted, and no error message
// quotes the URL.

// Topics manages pub/sub topics and their subscriptions; pubsub.Service
// implements it.
type Topics interface {
	// CreateTopic validates t, prepares its broker and stores it; an
	// existing name is a ResourceConflictException.
	CreateTopic(ctx context.Context, t pubsub.Topic) (*pubsub.Topic, error)
	// GetTopic returns one topic with its subscriptions, or a
	// ResourceNotFoundException.
	GetTopic(ctx context.Context, name string) (*pubsub.Topic, error)
	// ListTopics returns every topic by name; none is an empty list.
	ListTopics(ctx context.Context) ([]*pubsub.Topic, error)
	// DeleteTopic removes a topic and its subscriptions, or answers
	// ResourceNotFoundException.
	DeleteTopic(ctx context.Context, name string) error
	// Subscribe adds a subscription (the existing one when the endpoint
	// and filter are the same); a missing topic or function is a
	// ResourceNotFoundException.
	Subscribe(ctx context.Context, topic string, sub pubsub.Subscription) (*pubsub.Subscription, error)
	// Unsubscribe removes a subscription, or answers
	// ResourceNotFoundException.
	Unsubscribe(ctx context.Context, topic, id string) error
	// PermissionWarning says why the subscribed function would refuse the
	// topic's events, or "" when its resource policy allows them.
	PermissionWarning(ctx context.Context, t *pubsub.Topic, sub *pubsub.Subscription) string
	// Stats are one topic's counters on this node.
	Stats(name string) pubsub.Stats
}

var _ Topics = (*pubsub.Service)(nil)

// topicAnswer is one topic as the endpoints render it: redacted, with its
// ARN and its subscriptions' ARNs.
type topicAnswer struct {
	Topic         pubsub.Topic
	TopicArn      string
	Subscriptions []subscriptionAnswer
	// Stats are this node's counters (GetTopic only).
	Stats *pubsub.Stats `json:",omitempty"`
}

// subscriptionAnswer is one subscription with its ARN; Warning (Subscribe
// only) says why the function would refuse the topic's events.
type subscriptionAnswer struct {
	pubsub.Subscription
	SubscriptionArn string
	TopicArn        string
	Protocol        string
	Warning         string `json:",omitempty"`
}

func (a *API) topicRoutes() {
	const base = "/_gust/v1/topics"
	route := func(pattern, name string, h handlerFunc) {
		a.handle(pattern, a.operation("lambda", name, maxControlBody, tooLarge(name, maxControlBody), a.withTopics(h)))
	}
	route("POST "+base, "GustCreateTopic", a.createTopic)
	route("GET "+base, "GustListTopics", a.listTopics)
	route("GET "+base+"/{topic}", "GustGetTopic", a.getTopic)
	route("DELETE "+base+"/{topic}", "GustDeleteTopic", a.deleteTopic)
	route("POST "+base+"/{topic}/subscriptions", "GustSubscribe", a.subscribeTopic)
	route("GET "+base+"/{topic}/subscriptions", "GustListSubscriptions", a.listTopicSubscriptions)
	route("DELETE "+base+"/{topic}/subscriptions/{id}", "GustUnsubscribe", a.unsubscribeTopic)
}

// withTopics answers ServiceUnavailable on a server without topics rather
// than reaching h.
func (a *API) withTopics(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, body []byte) error {
		if a.opts.Topics == nil {
			return lambda.KindServiceUnavailable.Errorf("Pub/sub topics are not available on this server.")
		}
		return h(w, r, body)
	}
}

// topicAnswerFor renders t for the wire, without its credentials.
func (a *API) topicAnswerFor(t *pubsub.Topic) topicAnswer {
	red := t.Redacted()
	out := topicAnswer{TopicArn: t.ARN(a.id), Subscriptions: make([]subscriptionAnswer, 0, len(t.Subscriptions))}
	for _, sub := range red.Subscriptions {
		out.Subscriptions = append(out.Subscriptions, a.subscriptionAnswerFor(t, sub))
	}
	red.Subscriptions = nil // listed once, with their ARNs
	out.Topic = red
	return out
}

func (a *API) subscriptionAnswerFor(t *pubsub.Topic, sub pubsub.Subscription) subscriptionAnswer {
	return subscriptionAnswer{Subscription: sub, SubscriptionArn: t.SubscriptionARN(a.id, sub.ID), TopicArn: t.ARN(a.id), Protocol: "lambda"}
}

// topicNameIn is the topic the path names. A name no topic can have is
// not found here, before it reaches the store as a key.
func topicNameIn(r *http.Request) (string, error) {
	name := r.PathValue("topic")
	if !validTopicName.MatchString(name) {
		return "", lambda.KindResourceNotFound.Errorf("Topic does not exist: %s", name)
	}
	return name, nil
}

var validTopicName = lazyre.New(`^[A-Za-z0-9_-]{1,256}$`)

func (a *API) createTopic(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in pubsub.Topic
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	t, err := a.opts.Topics.CreateTopic(r.Context(), in)
	if err != nil {
		return err
	}
	a.logger.Info("topic created", "topic", t.Name, "broker", t.Broker)
	return writeJSON(w, http.StatusCreated, a.topicAnswerFor(t))
}

func (a *API) listTopics(w http.ResponseWriter, r *http.Request, _ []byte) error {
	topics, err := a.opts.Topics.ListTopics(r.Context())
	if err != nil {
		return err
	}
	out := make([]topicAnswer, 0, len(topics))
	for _, t := range topics {
		out = append(out, a.topicAnswerFor(t))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Topics": out})
}

// namedTopic reads the topic the path names.
func (a *API) namedTopic(r *http.Request) (*pubsub.Topic, error) {
	name, err := topicNameIn(r)
	if err != nil {
		return nil, err
	}
	return a.opts.Topics.GetTopic(r.Context(), name)
}

func (a *API) getTopic(w http.ResponseWriter, r *http.Request, _ []byte) error {
	t, err := a.namedTopic(r)
	if err != nil {
		return err
	}
	out := a.topicAnswerFor(t)
	stats := a.opts.Topics.Stats(t.Name)
	out.Stats = &stats
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) deleteTopic(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := topicNameIn(r)
	if err != nil {
		return err
	}
	if err := a.opts.Topics.DeleteTopic(r.Context(), name); err != nil {
		return err
	}
	a.logger.Info("topic deleted", "topic", name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) subscribeTopic(w http.ResponseWriter, r *http.Request, body []byte) error {
	t, err := a.namedTopic(r)
	if err != nil {
		return err
	}
	var in pubsub.Subscription
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	sub, err := a.opts.Topics.Subscribe(r.Context(), t.Name, in)
	if err != nil {
		return err
	}
	out := a.subscriptionAnswerFor(t, *sub)
	out.Warning = a.opts.Topics.PermissionWarning(r.Context(), t, sub)
	log := a.logger.With("topic", t.Name, "subscription", sub.ID, "function", sub.Endpoint)
	if out.Warning != "" {
		log.Warn("subscribed function does not allow SNS to invoke it", "warning", out.Warning)
	} else {
		log.Info("function subscribed")
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (a *API) listTopicSubscriptions(w http.ResponseWriter, r *http.Request, _ []byte) error {
	t, err := a.namedTopic(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Subscriptions": a.topicAnswerFor(t).Subscriptions})
}

func (a *API) unsubscribeTopic(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := topicNameIn(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := a.opts.Topics.Unsubscribe(r.Context(), name, id); err != nil {
		return err
	}
	a.logger.Info("function unsubscribed", "topic", name, "subscription", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
