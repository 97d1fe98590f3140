package pubsub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/uuid"
)

// MQTT topics: each node keeps a persistent session (CleanSession false,
// client id "gust-<node>-<topic>") with a QoS 1 shared subscription
// "$share/gust/<topic filter>", so the broker spreads messages over the
// nodes and queues a node's share while it is away. A message is
// acknowledged (PUBACK) only after every subscriber's event is queued in
// Gust; one left unacknowledged is sent again when the session resumes.
// MQTT 3.1.1 messages carry no headers, so records have no Subject and no
// MessageAttributes.

// mqttTimeout bounds one connect, subscribe or disconnect exchange.
const mqttTimeout = 10 * time.Second

// mqttShareGroup is the shared-subscription group every node joins.
const mqttShareGroup = "gust"

func mqttClientID(topic, node string) string { return "gust-" + node + "-" + topic }

func sharedFilter(t *Topic) string { return "$share/" + mqttShareGroup + "/" + t.MQTTTopic }

// mqttOptions are the client options for t's broker: the URL's user info
// goes into the CONNECT packet, never into the broker address.
func mqttOptions(t *Topic, clientID string, clean bool) *mqtt.ClientOptions {
	opts := mqtt.NewClientOptions()
	if u, err := url.Parse(t.URL); err == nil {
		if u.User != nil {
			opts.SetUsername(u.User.Username())
			if pass, ok := u.User.Password(); ok {
				opts.SetPassword(pass)
			}
			u.User = nil
		}
		opts.AddBroker(u.String())
	}
	return opts.SetClientID(clientID).SetCleanSession(clean).SetProtocolVersion(4).
		SetConnectTimeout(5 * time.Second).SetKeepAlive(30 * time.Second).SetPingTimeout(10 * time.Second).
		SetOrderMatters(true).SetAutoAckDisabled(true).
		SetAutoReconnect(true).SetMaxReconnectInterval(maxReconnectDelay)
}

// waitToken waits for an MQTT exchange, at most mqttTimeout.
func waitToken(ctx context.Context, tok mqtt.Token, what, rawURL string) error {
	timer := time.NewTimer(mqttTimeout)
	defer timer.Stop()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	case <-timer.C:
		return fmt.Errorf("%s: no answer from the MQTT broker within %s", what, mqttTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("%s: %w", what, scrub(err, rawURL))
	}
	return nil
}

// connectOnce connects a client with opts and disconnects it at once.
func connectOnce(ctx context.Context, opts *mqtt.ClientOptions, rawURL string) error {
	opts.SetAutoReconnect(false)
	c := mqtt.NewClient(opts)
	if err := waitToken(ctx, c.Connect(), "connect to MQTT", rawURL); err != nil {
		return err
	}
	c.Disconnect(250)
	return nil
}

// probeMQTT proves t's URL and credentials with a throwaway session.
func probeMQTT(ctx context.Context, t *Topic, _ string) error {
	return connectOnce(ctx, mqttOptions(t, "gust-probe-"+uuid.NewString(), true), t.URL)
}

// clearMQTTSession ends this node's persistent session of a deleted
// topic: connecting with a clean session discards the old one, with its
// subscription and any messages queued for it.
func clearMQTTSession(ctx context.Context, t *Topic, node string) error {
	return connectOnce(ctx, mqttOptions(t, mqttClientID(t.Name, node), true), t.URL)
}

// consumeMQTT holds this node's session of the topic until ctx ends;
// the client reconnects by itself after a lost connection, and the
// broker resends what this node had not acknowledged.
func (r *runner) consumeMQTT(ctx context.Context) error {
	if ok, err := r.svc.current(ctx, &r.topic); err != nil {
		return err
	} else if !ok {
		return errTopicGone
	}
	clientID := mqttClientID(r.topic.Name, r.svc.opts.NodeID)
	work := make(chan mqtt.Message)
	handler := func(_ mqtt.Client, m mqtt.Message) {
		select {
		case work <- m:
		case <-ctx.Done(): // not acknowledged: the broker resends it to the next session
		}
	}
	// The workers run before the client connects: paho calls handler on
	// the goroutine that also reads the SUBACK, so a message the resumed
	// session sends before it would otherwise block that goroutine, the
	// subscription would never be confirmed and nothing would be consumed.
	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopWorkers() // first: a failed connect returns before ctx ends
	for range r.svc.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case m := <-work:
					r.handleMQTT(wctx, clientID, m)
				case <-wctx.Done():
					return
				}
			}
		}()
	}
	filter := sharedFilter(&r.topic)
	opts := mqttOptions(&r.topic, clientID, false)
	// A resumed session's queued messages may arrive before the
	// subscription is renewed: the route (by the plain filter, as paho
	// routes shared subscriptions) catches them from the start.
	opts.SetDefaultPublishHandler(handler)
	// Every connection renews the subscription; the first one's outcome
	// decides whether this session is consuming.
	subscribed := make(chan error, 1)
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		err := waitToken(ctx, c.Subscribe(filter, 1, handler), "subscribe to "+filter, r.topic.URL)
		select {
		case subscribed <- err:
		default:
			if err != nil && ctx.Err() == nil {
				r.log.Error("MQTT subscription not renewed", "client_id", clientID, "err", err)
			}
		}
	})
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		r.log.Warn("MQTT connection lost; reconnecting", "client_id", clientID, "err", scrub(err, r.topic.URL))
	})
	client := mqtt.NewClient(opts)
	client.AddRoute(r.topic.MQTTTopic, handler)
	if err := waitToken(ctx, client.Connect(), "connect to MQTT", r.topic.URL); err != nil {
		client.Disconnect(0)
		return err
	}
	select {
	case err := <-subscribed:
		if err != nil {
			client.Disconnect(0)
			return err
		}
	case <-ctx.Done():
		client.Disconnect(0)
		return ctx.Err()
	}
	r.log.Info("consuming topic", "mqtt_topic", r.topic.MQTTTopic, "client_id", clientID)

	<-ctx.Done()
	wg.Wait() // deliveries under way finish (bounded by invokeTimeout) and are acknowledged
	client.Disconnect(250)
	return ctx.Err()
}

// handleMQTT delivers one message and acknowledges it once every event is
// queued.
func (r *runner) handleMQTT(ctx context.Context, clientID string, msg mqtt.Message) {
	m := &message{id: mqttMessageID(r.arn, clientID, msg), body: msg.Payload(), published: time.Now()}
	if err := r.deliver(ctx, m, nil); err != nil {
		return // not acknowledged: the broker resends it when the session resumes
	}
	msg.Ack()
}

// mqttMessageID gives a QoS 1 message the same id on every delivery to
// this node's session: MQTT 3.1.1 has no message id, but a resent message
// keeps its packet id and payload. A QoS 0 message is never resent and
// its packet id is always 0, so it gets a random id.
func mqttMessageID(topicARN, clientID string, msg mqtt.Message) string {
	if msg.Qos() == 0 {
		return uuid.NewString()
	}
	sum := sha256.Sum256(msg.Payload())
	return messageID(topicARN, clientID, msg.Topic(), strconv.Itoa(int(msg.MessageID())), hex.EncodeToString(sum[:]))
}
