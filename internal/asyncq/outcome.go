package asyncq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	"gust/internal/invoke"
	"gust/internal/lambda"
)

// Conditions of a destination record.
const (
	conditionSuccess          = "Success"
	conditionRetriesExhausted = "RetriesExhausted"
	conditionEventAgeExceeded = "EventAgeExceeded"
)

// record is Lambda's destination record (§3.5).
type record struct {
	Version         string           `json:"version"`
	Timestamp       string           `json:"timestamp"`
	RequestContext  requestContext   `json:"requestContext"`
	RequestPayload  json.RawMessage  `json:"requestPayload"`
	ResponseContext *responseContext `json:"responseContext,omitempty"`
	ResponsePayload json.RawMessage  `json:"responsePayload,omitempty"`
}

type requestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

type responseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// newRecord builds the record of ev's outcome; resp is nil when the
// function never answered.
func (q *Queue) newRecord(ev *event, condition string, resp *invoke.Response) record {
	version := qualifierOrLatest(ev.Qualifier)
	if resp != nil && resp.ExecutedVersion != "" {
		version = resp.ExecutedVersion
	}
	r := record{
		Version:   "1.0",
		Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: requestContext{
			RequestID:              ev.RequestID,
			FunctionARN:            q.opts.Identity.QualifiedARN(ev.Function, version),
			Condition:              condition,
			ApproximateInvokeCount: ev.Invokes,
		},
		RequestPayload: rawJSON(ev.Payload),
	}
	if resp != nil {
		r.ResponseContext = &responseContext{StatusCode: http.StatusOK, ExecutedVersion: version, FunctionError: resp.FunctionError}
		if len(resp.Payload) > 0 {
			r.ResponsePayload = rawJSON(resp.Payload)
		}
	}
	return r
}

// rawJSON passes valid JSON through and quotes anything else, so a record
// always marshals.
func rawJSON(b []byte) json.RawMessage {
	if json.Valid(b) {
		return b
	}
	q, _ := json.Marshal(string(b))
	return q
}

// succeed sends a success record to OnSuccess, if set.
func (q *Queue) succeed(ctx context.Context, ev *event, cfg *lambda.EventInvokeConfig, resp *invoke.Response) {
	if cfg.OnSuccess == "" {
		return
	}
	body, err := json.Marshal(q.newRecord(ev, conditionSuccess, resp))
	if err == nil {
		err = q.deliver(ctx, ev, cfg.OnSuccess, body, kindDestination, conditionSuccess, "", "")
	}
	if err != nil {
		q.count(ev.Function, func(c *Counters) { c.DestinationDeliveryFailures++ })
		q.log.Error("DestinationDeliveryFailures: on-success destination", "function", ev.Function,
			"requestId", ev.RequestID, "destination", cfg.OnSuccess, "err", err)
	}
}

// fail sends an event that will not run again to OnFailure and to the
// function's dead-letter queue. With neither, the event is dropped, and
// the log says so with its request id.
func (q *Queue) fail(ctx context.Context, ev *event, cfg *lambda.EventInvokeConfig, condition string, resp *invoke.Response) {
	log := q.log.With("function", ev.Function, "requestId", ev.RequestID, "condition", condition)
	errType, errMsg := functionError(resp)
	if condition == conditionEventAgeExceeded {
		errType, errMsg = "EventAgeExceeded", "The event exceeded the function's maximum event age."
	}
	delivered := false
	if cfg.OnFailure != "" {
		body, err := json.Marshal(q.newRecord(ev, condition, resp))
		if err == nil {
			err = q.deliver(ctx, ev, cfg.OnFailure, body, kindDestination, condition, errType, errMsg)
		}
		if err != nil {
			q.count(ev.Function, func(c *Counters) { c.DestinationDeliveryFailures++ })
			log.Error("DestinationDeliveryFailures: on-failure destination", "destination", cfg.OnFailure, "err", err)
		} else {
			delivered = true
		}
	}
	version := qualifierOrLatest(ev.Qualifier)
	if resp != nil && resp.ExecutedVersion != "" {
		version = resp.ExecutedVersion
	}
	dlq, err := q.opts.Settings.DeadLetterTarget(ctx, ev.Function, version)
	if err != nil {
		log.Warn("read dead-letter config", "err", err)
	}
	if dlq != "" {
		// A dead-letter queue receives the event itself (§3.5).
		if err := q.deliver(ctx, ev, dlq, ev.Payload, kindDeadLetter, condition, errType, errMsg); err != nil {
			q.count(ev.Function, func(c *Counters) { c.DeadLetterErrors++ })
			log.Error("DeadLetterErrors: dead-letter queue", "target", dlq, "err", err)
		} else {
			delivered = true
		}
	}
	if delivered {
		q.count(ev.Function, func(c *Counters) { c.DeadLettered++ })
		return
	}
	q.count(ev.Function, func(c *Counters) { c.AsyncEventsDropped++ })
	log.Warn("AsyncEventsDropped: async event discarded; configure an on-failure destination or a dead-letter queue to keep such events",
		"invokes", ev.Invokes, "errorType", errType)
}

// functionError reads errorType and errorMessage from a function error.
func functionError(resp *invoke.Response) (typ, msg string) {
	if resp == nil {
		return "", ""
	}
	var e struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}
	_ = json.Unmarshal(resp.Payload, &e)
	return e.Type, e.Message
}

// Kinds of dead-letter message.
const (
	kindDestination = "destination" // body is a destination record
	kindDeadLetter  = "dead-letter" // body is the event (DeadLetterConfig)
	// kindSourceFailure: body is an event source mapping's on-failure
	// record (SendRecord).
	kindSourceFailure = "source-failure"
)

// deliver sends body to a destination ARN: a function (as a new async
// event, one hop further) or a Gust queue.
func (q *Queue) deliver(ctx context.Context, ev *event, arn string, body []byte, kind, condition, errType, errMsg string) error {
	d, err := lambda.ParseDestination(arn)
	if err != nil {
		return err
	}
	if d.Region != q.opts.Identity.Region || d.Account != q.opts.Identity.Account {
		return fmt.Errorf("destination %s is not in this Gust's region and account", arn)
	}
	switch d.Kind {
	case lambda.DestinationLambda:
		_, err := q.opts.Invoker.Invoke(ctx, invoke.Request{
			FunctionName: arn,
			Type:         invoke.TypeEvent,
			Payload:      body,
			TraceID:      invoke.WithLineage(ev.TraceID, ev.Hops+1),
		})
		return err
	case lambda.DestinationSQS:
		m := nats.NewMsg(dlqSubject(d.Name))
		m.Data = body
		m.Header.Set(hdrRequestID, ev.RequestID)
		m.Header.Set(hdrFunction, ev.Function)
		if ev.Qualifier != "" {
			m.Header.Set(hdrQualifier, ev.Qualifier)
		}
		m.Header.Set(hdrKind, kind)
		m.Header.Set(hdrCondition, condition)
		if errType != "" {
			m.Header.Set(hdrErrorType, errType)
		}
		if errMsg != "" {
			m.Header.Set(hdrErrorMessage, errMsg)
		}
		_, err := q.js.PublishMsg(ctx, m)
		return err
	}
	return errors.New("unsupported destination " + arn)
}
