package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"gust/internal/iam/policy"
	"gust/internal/invoke"
	"gust/internal/lambda"
	"gust/internal/natsd"
	"gust/internal/store"
)

// Each topic is one record, its subscriptions inside it, at
// "topic.<name>", so that every change to a topic is one compare-and-set
// and deleting a topic deletes its subscriptions.
const topicPrefix = "topic."

func topicKey(name string) string { return topicPrefix + name }

func topicName(key string) (string, bool) {
	name, ok := strings.CutPrefix(key, topicPrefix)
	return name, ok && validTopicName.MatchString(name)
}

func decodeTopic(b []byte) (*Topic, error) {
	t := new(Topic)
	if err := json.Unmarshal(b, t); err != nil {
		return nil, fmt.Errorf("decode topic: %w", err)
	}
	return t, nil
}

func topicNotFound(name string) error {
	return lambda.KindResourceNotFound.Errorf("Topic does not exist: %s", name)
}

// setupTimeout bounds what CreateTopic and DeleteTopic do on the broker.
const setupTimeout = 15 * time.Second

// CreateTopic validates t, fills its defaults and prepares its broker —
// for NATS the stream that captures the subject (created when missing)
// and the durable consumer every node shares; for MQTT a test connection
// — then stores it. An existing name is a ResourceConflictException; a
// broker that cannot be reached or set up an InvalidParameterValueException
// whose message never quotes the URL.
func (s *Service) CreateTopic(ctx context.Context, t Topic) (*Topic, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	conflict := lambda.KindResourceConflict.Errorf("Topic already exists: %s", t.Name)
	// Checked before the broker is touched, so a second create cannot
	// disturb the consumer of the topic that exists.
	if cur, _, err := natsd.GetJSON[Topic](ctx, s.kv, topicKey(t.Name)); err != nil {
		return nil, err
	} else if cur != nil {
		return nil, conflict
	}
	t.Created = time.Now().UTC()
	setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	if err := prepareBroker(setupCtx, &t, s.opts.NodeID); err != nil {
		return nil, lambda.KindInvalidParameterValue.Errorf("Could not set up topic %s on its %s broker: %s", t.Name, t.Broker, err)
	}
	stored, err := natsd.UpdateJSON(ctx, s.kv, topicKey(t.Name), func(cur *Topic) (*Topic, error) {
		if cur != nil {
			return nil, conflict
		}
		return &t, nil
	})
	if err != nil {
		return nil, err
	}
	s.refresh(ctx, t.Name)
	return stored, nil
}

// GetTopic returns one topic with its subscriptions, or a
// ResourceNotFoundException.
func (s *Service) GetTopic(ctx context.Context, name string) (*Topic, error) {
	if !validTopicName.MatchString(name) {
		return nil, topicNotFound(name)
	}
	t, _, err := natsd.GetJSON[Topic](ctx, s.kv, topicKey(name))
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, topicNotFound(name)
	}
	return t, nil
}

// ListTopics returns every topic by name; none is an empty list.
func (s *Service) ListTopics(ctx context.Context) ([]*Topic, error) {
	keys, err := s.kv.ListKeysFiltered(ctx, topicPrefix+">")
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	out := []*Topic{}
	for k := range keys.Keys() {
		t, _, err := natsd.GetJSON[Topic](ctx, s.kv, k)
		if err != nil {
			return nil, err
		}
		if t != nil {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b *Topic) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteTopic removes a topic and its subscriptions; a missing one is a
// ResourceNotFoundException. This node has stopped consuming it (and
// cleared its MQTT session) when DeleteTopic returns; the others stop as
// the bucket watch tells them. A NATS topic's durable consumer is deleted
// too (a failure to is logged, not returned); its stream stays, as do the
// messages in it.
func (s *Service) DeleteTopic(ctx context.Context, name string) error {
	t, err := s.GetTopic(ctx, name)
	if err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, topicKey(name)); err != nil {
		return fmt.Errorf("delete topic %s: %w", name, err)
	}
	dropCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	s.stopDeleted(dropCtx, name)
	if t.Broker == BrokerNATS {
		if err := dropNATSConsumer(dropCtx, t); err != nil {
			s.log.Warn("topic deleted, its durable consumer was not", "topic", name,
				"stream", t.Stream, "consumer", durableName(t.Name), "err", err)
		}
	}
	return nil
}

// Subscribe subscribes a function to a topic and returns the
// subscription. sub.Endpoint names the function (a name, name:qualifier
// or ARN of this region and account; it is stored as a full ARN) and must
// exist; FilterPolicy and FilterPolicyScope are checked as SNS checks
// them. Subscribing an endpoint again with the same filter returns the
// existing subscription, as SNS does; with another filter it is an
// InvalidParameterValueException. A missing topic is a
// ResourceNotFoundException. Whether the function allows SNS to invoke it
// is not checked here: see PermissionWarning.
func (s *Service) Subscribe(ctx context.Context, topic string, sub Subscription) (*Subscription, error) {
	if _, err := s.GetTopic(ctx, topic); err != nil {
		return nil, err
	}
	ref, err := s.endpointRef(sub.Endpoint)
	if err != nil {
		return nil, err
	}
	sub.Endpoint = s.opts.Identity.QualifiedARN(ref.Name, ref.Qualifier)
	if _, err := compileFilterPolicy(&sub); err != nil {
		return nil, err
	}
	if _, err := s.opts.Invoker.Invoke(ctx, invoke.Request{FunctionName: sub.Endpoint, Type: invoke.TypeDryRun}); err != nil {
		return nil, err
	}
	sub.ID, sub.Created = uuid.NewString(), time.Now().UTC()
	var result Subscription
	_, err = natsd.UpdateJSON(ctx, s.kv, topicKey(topic), func(cur *Topic) (*Topic, error) {
		if cur == nil {
			return nil, topicNotFound(topic)
		}
		for _, have := range cur.Subscriptions {
			if have.Endpoint != sub.Endpoint {
				continue
			}
			if have.FilterPolicy != sub.FilterPolicy || have.FilterPolicyScope != sub.FilterPolicyScope {
				return nil, lambda.KindInvalidParameterValue.Errorf("Invalid parameter: Attributes Reason: Subscription already exists with different attributes")
			}
			result = have
			return nil, natsd.ErrUnchanged
		}
		if len(cur.Subscriptions) >= MaxSubscriptions {
			return nil, lambda.KindServiceQuotaExceeded.Errorf("Topic %s has %d subscriptions, the most Gust allows.", topic, MaxSubscriptions)
		}
		result = sub
		cur.Subscriptions = append(cur.Subscriptions, sub)
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	s.refresh(ctx, topic)
	return &result, nil
}

// endpointRef parses a subscription endpoint: a function of this region
// and account.
func (s *Service) endpointRef(endpoint string) (lambda.FunctionRef, error) {
	bad := lambda.KindInvalidParameterValue.Errorf
	if endpoint == "" {
		return lambda.FunctionRef{}, bad("Invalid parameter: Endpoint: a lambda subscription needs the function's ARN.")
	}
	ref, err := lambda.ParseFunctionRef(endpoint)
	if err != nil || !s.opts.Identity.Owns(ref) {
		return lambda.FunctionRef{}, bad("Invalid parameter: Endpoint: %q is not a function of region %s, account %s.", endpoint, s.opts.Identity.Region, s.opts.Identity.Account)
	}
	return ref, nil
}

// Unsubscribe removes one subscription; a missing topic or subscription
// is a ResourceNotFoundException.
func (s *Service) Unsubscribe(ctx context.Context, topic, id string) error {
	if _, err := s.GetTopic(ctx, topic); err != nil {
		return err
	}
	_, err := natsd.UpdateJSON(ctx, s.kv, topicKey(topic), func(cur *Topic) (*Topic, error) {
		if cur == nil {
			return nil, topicNotFound(topic)
		}
		if cur.subscription(id) == nil {
			return nil, lambda.KindResourceNotFound.Errorf("Subscription does not exist: %s", id)
		}
		cur.Subscriptions = slices.DeleteFunc(cur.Subscriptions, func(s Subscription) bool { return s.ID == id })
		return cur, nil
	})
	if err != nil {
		return err
	}
	s.refresh(ctx, topic)
	return nil
}

// snsPrincipal is the service principal SNS invokes functions as.
const snsPrincipal = "sns.amazonaws.com"

// PermissionWarning says why the function of sub would refuse the topic's
// events — its resource policy does not allow sns.amazonaws.com to call
// lambda:InvokeFunction for this topic — with the command that fixes it;
// "" when it allows them. Deliveries check the same at every event.
func (s *Service) PermissionWarning(ctx context.Context, t *Topic, sub *Subscription) string {
	ref, err := s.endpointRef(sub.Endpoint)
	if err != nil {
		return err.Error()
	}
	ok, err := s.permitted(ctx, t.ARN(s.opts.Identity), ref)
	if err != nil {
		return "Could not read the resource policy of " + sub.Endpoint + ": deliveries check it again."
	}
	if ok {
		return ""
	}
	fn := ref.Name
	if ref.Qualifier != "" {
		fn += ":" + ref.Qualifier
	}
	return fmt.Sprintf("The resource policy of %s does not allow %s to invoke it, so events from %s will be refused. Allow them with: "+
		"aws lambda add-permission --function-name %s --statement-id sns-%s --action lambda:InvokeFunction --principal %s --source-arn %s",
		sub.Endpoint, snsPrincipal, t.ARN(s.opts.Identity), fn, t.Name, snsPrincipal, t.ARN(s.opts.Identity))
}

// permitted evaluates the function's resource policy as Lambda does for
// an invocation by SNS on behalf of topicARN. No policy allows nothing.
func (s *Service) permitted(ctx context.Context, topicARN string, ref lambda.FunctionRef) (bool, error) {
	doc, _, err := s.policies.GetPolicy(ctx, ref.Name, ref.Qualifier)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read resource policy of %s: %w", ref.Name, err)
	}
	resource := s.opts.Identity.QualifiedARN(ref.Name, ref.Qualifier)
	if ref.Qualifier == lambda.LatestVersion {
		resource = s.opts.Identity.FunctionARN(ref.Name)
	}
	req := policy.Request{
		Service:  snsPrincipal,
		Action:   "lambda:InvokeFunction",
		Resource: resource,
		Context:  map[string]string{"aws:SourceArn": topicARN, "aws:SourceAccount": s.opts.Identity.Account},
	}
	return policy.Evaluate(req, nil, doc) == policy.Allow, nil
}

// current reports whether topic t (by name and creation time) is still
// stored, so that a runner never recreates broker state for a topic that
// was deleted.
func (s *Service) current(ctx context.Context, t *Topic) (bool, error) {
	cur, _, err := natsd.GetJSON[Topic](ctx, s.kv, topicKey(t.Name))
	if err != nil {
		return false, err
	}
	return cur != nil && cur.Created.Equal(t.Created), nil
}
