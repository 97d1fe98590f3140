package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gust/internal/pubsub"
)

// topicURLEnv holds a broker URL given as "-", so that its password stays
// out of the shell history and the process list.
const topicURLEnv = "GUST_TOPIC_URL"

// topicInfo is one topic as /_gust/v1/topics answers it.
type topicInfo struct {
	Topic         pubsub.Topic
	TopicArn      string
	Subscriptions []subscriptionInfo
	Stats         *pubsub.Stats `json:",omitempty"`
}

// subscriptionInfo is one subscription as the endpoints answer it.
type subscriptionInfo struct {
	pubsub.Subscription
	SubscriptionArn string
	TopicArn        string
	Protocol        string
	Warning         string `json:",omitempty"`
}

func (a *app) topicCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Fan messages out to functions as SNS topics do",
		Long: `Make a NATS subject or an MQTT topic an SNS-style topic, and subscribe
functions to it: every message published there reaches each subscribed
function once, as the SNS event aws-lambda-go's events.SNSEvent decodes,
through the asynchronous path (the function's retries, destinations and
dead-letter queue apply). A topic's ARN is
  arn:aws:sns:REGION:ACCOUNT:NAME

A NATS topic is captured by a JetStream stream (created when missing), so
messages published while Gust is down wait there. An MQTT topic is read
with QoS 1 and a persistent shared subscription.

As with SNS, a function only gets a topic's events when its resource
policy allows sns.amazonaws.com to invoke it:
  aws lambda add-permission --function-name F --statement-id sns \
    --action lambda:InvokeFunction --principal sns.amazonaws.com --source-arn TOPIC_ARN

The broker URL holds its credentials: the server keeps it, and never
shows its password again (it prints as ****).`,
		Example: `  gust topic create orders --nats nats://127.0.0.1:4222 --subject orders.>
  gust topic create sensors --mqtt tcp://127.0.0.1:1883 --topic sensors/+/temp
  gust topic subscribe orders --function billing --filter-policy '{"region":["eu"]}'
  gust topic show orders
  gust topic unsubscribe orders 2bcfbf39-05c3-41de-beaa-fcfcc21c8f55
  gust topic rm orders`,
		Args: cobra.ArbitraryArgs,
		RunE: subcommandRequired,
	}
	cmd.AddCommand(a.topicCreateCommand(), a.topicLsCommand(), a.topicShowCommand(), a.topicRmCommand(),
		a.topicSubscribeCommand(), a.topicUnsubscribeCommand())
	return cmd
}

// topicFlags are the options of `gust topic create`.
type topicFlags struct {
	nats, mqtt              string
	subject, stream, mtopic string
	asJSON                  bool
}

func (a *app) topicCreateCommand() *cobra.Command {
	var f topicFlags
	cmd := &cobra.Command{
		Use:   "create NAME (--nats URL --subject S [--stream NAME] | --mqtt URL --topic T) [--json]",
		Short: "Create a topic and print its ARN",
		Long: `Create a topic named NAME (1 to 256 of A-Z a-z 0-9 _ -) on exactly one
broker, and print its SNS ARN on stdout.

  --nats URL   nats:// or tls://; the topic is the subject --subject
               (wildcards * and > allowed). The JetStream stream --stream
               (default GUST_TOPIC_NAME) captures it: Gust creates it when
               missing (file storage, messages kept 7 days); an existing
               stream must already capture the subject. Gust reads it with
               the durable consumer gust-topic-NAME, from now on.
  --mqtt URL   tcp://, mqtt://, ssl://, tls://, mqtts://, ws:// or wss://;
               the topic is the MQTT topic filter --topic (+ and #
               allowed). Publish with QoS 1: QoS 0 messages are delivered
               at most once.

A URL of "-" is read from $GUST_TOPIC_URL instead, which keeps its
password out of the shell history and the process list.

With --json the server's answer is printed: {"Topic":{…},"TopicArn":"…"}.`,
		Example: `  gust topic create orders --nats nats://127.0.0.1:4222 --subject orders.>
  gust topic create orders --nats nats://127.0.0.1:4222 --subject orders.new --stream ORDERS
  GUST_TOPIC_URL=tcp://app:pw@127.0.0.1:1883 gust topic create sensors --mqtt - --topic sensors/#`,
		Args: exactArgs(1, "a topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := f.topic(cmd, args[0])
			if err != nil {
				return err
			}
			out, err := postJSON[topicInfo](a, cmd.Context(), "/_gust/v1/topics", "create topic "+t.Name, t)
			if err != nil {
				return err
			}
			if f.asJSON {
				return writeIndentedJSON(a.stdout, out)
			}
			fmt.Fprintln(a.stdout, out.TopicArn)
			fmt.Fprintf(a.stderr, "created topic %s (%s)\nsubscribe a function with:\n  gust topic subscribe %s --function FUNCTION\n",
				out.Topic.Name, topicReads(out.Topic), out.Topic.Name)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.nats, "nats", "", "NATS URL (nats://[USER:PASS@]HOST:4222; '-' = $"+topicURLEnv+")")
	fl.StringVar(&f.mqtt, "mqtt", "", "MQTT broker URL (tcp://[USER:PASS@]HOST:1883; '-' = $"+topicURLEnv+")")
	fl.StringVar(&f.subject, "subject", "", "NATS subject of the topic (required with --nats)")
	fl.StringVar(&f.stream, "stream", "", "JetStream stream that captures the subject (default GUST_TOPIC_NAME; created when missing)")
	fl.StringVar(&f.mtopic, "topic", "", "MQTT topic filter (required with --mqtt)")
	fl.BoolVar(&f.asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

// topic builds the topic the flags describe. Errors never quote a URL: it
// may hold a password.
func (f *topicFlags) topic(cmd *cobra.Command, name string) (pubsub.Topic, error) {
	bad := func(format string, args ...any) (pubsub.Topic, error) {
		return pubsub.Topic{}, usageError{cmd: cmd, err: fmt.Errorf(format, args...)}
	}
	set := cmd.Flags().Changed
	t := pubsub.Topic{Name: name, Subject: f.subject, Stream: f.stream, MQTTTopic: f.mtopic}
	switch {
	case set("nats") == set("mqtt"):
		return bad("give exactly one of --nats URL or --mqtt URL")
	case set("nats"):
		t.Broker, t.URL = pubsub.BrokerNATS, f.nats
		if set("topic") {
			return bad("--topic is an MQTT topic filter; a NATS topic takes --subject")
		}
		if f.subject == "" {
			return bad("--nats needs --subject: the subject messages are published to")
		}
	default:
		t.Broker, t.URL = pubsub.BrokerMQTT, f.mqtt
		if set("subject") || set("stream") {
			return bad("--subject and --stream are for NATS; an MQTT topic takes --topic")
		}
		if f.mtopic == "" {
			return bad("--mqtt needs --topic: the MQTT topic filter to read")
		}
	}
	if t.URL == "-" {
		t.URL = os.Getenv(topicURLEnv)
		if t.URL == "" {
			return bad("--%s - reads the URL from $%s, which is empty", t.Broker, topicURLEnv)
		}
	}
	if t.URL == "" {
		return bad("--%s needs a URL", t.Broker)
	}
	return t, nil
}

// topicReads names what a topic consumes.
func topicReads(t pubsub.Topic) string {
	if t.Broker == pubsub.BrokerMQTT {
		return "mqtt topic " + t.MQTTTopic
	}
	return "nats subject " + t.Subject + " in stream " + t.Stream
}

func (a *app) topicLsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--json]",
		Aliases: []string{"list"},
		Short:   "List topics",
		Long: `List topics, one per line: name, broker, what it reads, its URL with the
password shown as ****, how many functions are subscribed, and its ARN.
With --json the server's answer is printed: {"Topics":[…]}.`,
		Example: `  gust topic ls
  gust topic ls --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return getAndPrint(a, cmd.Context(), "/_gust/v1/topics", "list topics", asJSON, func(out struct{ Topics []topicInfo }) error {
				if len(out.Topics) == 0 {
					fmt.Fprintln(a.stderr, "no topics")
					return nil
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TOPIC\tBROKER\tREADS\tURL\tSUBSCRIPTIONS\tTOPIC ARN")
				for _, t := range out.Topics {
					reads := t.Topic.MQTTTopic
					if t.Topic.Broker == pubsub.BrokerNATS {
						reads = t.Topic.Subject + " (" + t.Topic.Stream + ")"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", t.Topic.Name, t.Topic.Broker, reads, t.Topic.URL, len(t.Subscriptions), t.TopicArn)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

func (a *app) topicShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME [--json]",
		Short: "Print a topic, its subscriptions and this node's counters",
		Long: `Print a topic's settings (its URL with the password shown as ****), its
ARN, each subscription (id, function, filter policy) and the counters of
the node that answers: messages received, events queued, filtered,
denied (the function's resource policy does not allow sns.amazonaws.com),
refused (deleted function, event over 1 MB) and delivery retries. With
--json the server's answer is printed: {"Topic":{…},"TopicArn":"…",
"Subscriptions":[…],"Stats":{…}}.`,
		Example: `  gust topic show orders`,
		Args:    exactArgs(1, "a topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return getAndPrint(a, cmd.Context(), "/_gust/v1/topics/"+url.PathEscape(args[0]), "topic "+args[0], asJSON, a.printTopic)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

// printTopic writes a topic as aligned "key: value" lines, then its
// subscriptions.
func (a *app) printTopic(out topicInfo) error {
	t := out.Topic
	lines := [][2]string{{"topic", t.Name}, {"broker", t.Broker}, {"url", t.URL}}
	if t.Broker == pubsub.BrokerNATS {
		lines = append(lines, [2]string{"subject", t.Subject}, [2]string{"stream", t.Stream})
	} else {
		lines = append(lines, [2]string{"mqtt topic", t.MQTTTopic})
	}
	lines = append(lines, [2]string{"created", t.Created.UTC().Format(time.RFC3339)}, [2]string{"topic arn", out.TopicArn})
	if s := out.Stats; s != nil {
		lines = append(lines, [2]string{"this node", fmt.Sprintf("%d received, %d queued, %d filtered, %d denied, %d refused, %d retries",
			s.MessagesReceived, s.EventsQueued, s.EventsFiltered, s.EventsDenied, s.EventsRefused, s.DeliveryRetries)})
	}
	lines = append(lines, [2]string{"subscriptions", strconv.Itoa(len(out.Subscriptions))})
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 1, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "%s:\t%s\n", l[0], l[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(out.Subscriptions) == 0 {
		return nil
	}
	tw = tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSUBSCRIPTION ID\tFUNCTION\tFILTER POLICY")
	for _, s := range out.Subscriptions {
		filter := "-"
		if s.FilterPolicy != "" {
			filter = s.FilterPolicy + " (" + s.FilterPolicyScope + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.ID, s.Endpoint, filter)
	}
	return tw.Flush()
}

func (a *app) topicRmCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"delete"},
		Short:   "Delete a topic and its subscriptions",
		Long: `Delete a topic and its subscriptions; every node stops reading it. A NATS
topic's durable consumer gust-topic-NAME is deleted; its stream stays, with
the messages in it (remove it with 'nats stream rm' if Gust made it and
nothing else uses it). Each node clears its MQTT session of the topic.`,
		Example: `  gust topic rm orders`,
		Args:    exactArgs(1, "a topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			if err := c.send(cmd.Context(), http.MethodDelete, "/_gust/v1/topics/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return fmt.Errorf("delete topic %s: %w", args[0], err)
			}
			fmt.Fprintf(a.stderr, "deleted topic %s\n", args[0])
			return nil
		},
	}
}

func (a *app) topicSubscribeCommand() *cobra.Command {
	var function, filter, scope string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "subscribe NAME --function F [--filter-policy JSON] [--filter-policy-scope SCOPE] [--json]",
		Short: "Subscribe a function to a topic and print the subscription ARN",
		Long: `Subscribe a function (name, name:alias, name:version or ARN) to topic NAME,
and print the subscription's ARN (TOPIC_ARN:SUBSCRIPTION_ID) on stdout.
Subscribing the same function again with the same filter policy gives the
same subscription.

--filter-policy takes an SNS filter policy (JSON, or @FILE): only the
messages it matches reach the function. Its scope, --filter-policy-scope,
is MessageAttributes (the default: the message's attributes, from NATS
headers) or MessageBody (the message, which must be a JSON object). MQTT
messages have no attributes: filter them with MessageBody.

If the function's resource policy does not allow sns.amazonaws.com to
invoke it, events are refused at delivery, as in AWS; a warning on stderr
then gives the aws lambda add-permission command that allows them.`,
		Example: `  gust topic subscribe orders --function billing
  gust topic subscribe orders --function billing:live --filter-policy '{"region":["eu"],"total":[{"numeric":[">",100]}]}'
  gust topic subscribe sensors --function alarm --filter-policy '{"temp":[{"numeric":[">=",40]}]}' --filter-policy-scope MessageBody`,
		Args: exactArgs(1, "a topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if function == "" {
				return usageError{cmd: cmd, err: fmt.Errorf("--function is required: the function to subscribe")}
			}
			policy, err := readPayload(filter, a.stdin)
			if err != nil {
				return usageError{cmd: cmd, err: fmt.Errorf("--filter-policy: %w", err)}
			}
			if scope != "" && scope != pubsub.ScopeMessageAttributes && scope != pubsub.ScopeMessageBody {
				return usageError{cmd: cmd, err: fmt.Errorf("--filter-policy-scope must be MessageAttributes or MessageBody, not %q", scope)}
			}
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			body, err := json.Marshal(pubsub.Subscription{Endpoint: function, FilterPolicy: strings.TrimSpace(string(policy)), FilterPolicyScope: scope})
			if err != nil {
				return fmt.Errorf("subscribe %s: %w", function, err)
			}
			var out subscriptionInfo
			if err := c.send(cmd.Context(), http.MethodPost, "/_gust/v1/topics/"+url.PathEscape(args[0])+"/subscriptions", body, &out); err != nil {
				return fmt.Errorf("subscribe %s to %s: %w", function, args[0], err)
			}
			if asJSON {
				return writeIndentedJSON(a.stdout, out)
			}
			fmt.Fprintln(a.stdout, out.SubscriptionArn)
			if out.Warning != "" {
				fmt.Fprintln(a.stderr, "warning: "+out.Warning)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&function, "function", "", "function to subscribe: name, name:qualifier or ARN (required)")
	fl.StringVar(&filter, "filter-policy", "", "SNS filter policy: JSON, @FILE, or - for stdin (default: every message)")
	fl.StringVar(&scope, "filter-policy-scope", "", "MessageAttributes (default) or MessageBody")
	fl.BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

func (a *app) topicUnsubscribeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unsubscribe NAME SUBSCRIPTION_ID",
		Short: "Remove a subscription from a topic",
		Long: `Remove a subscription from topic NAME. SUBSCRIPTION_ID is the id 'gust
topic show' lists, or the subscription ARN 'gust topic subscribe'
printed. The function gets no further events from the topic; events
already queued for it still run.`,
		Example: `  gust topic unsubscribe orders 2bcfbf39-05c3-41de-beaa-fcfcc21c8f55
  gust topic unsubscribe orders arn:aws:sns:us-east-1:000000000000:orders:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55`,
		Args: exactArgs(2, "a topic name and a subscription id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[1]
			if i := strings.LastIndexByte(id, ':'); i >= 0 {
				id = id[i+1:] // a subscription ARN ends with the id
			}
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			path := "/_gust/v1/topics/" + url.PathEscape(args[0]) + "/subscriptions/" + url.PathEscape(id)
			if err := c.send(cmd.Context(), http.MethodDelete, path, nil, nil); err != nil {
				return fmt.Errorf("unsubscribe %s from %s: %w", id, args[0], err)
			}
			fmt.Fprintf(a.stderr, "unsubscribed %s from topic %s\n", id, args[0])
			return nil
		},
	}
}
