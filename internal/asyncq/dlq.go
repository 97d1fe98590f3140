package asyncq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/invoke"
	"gust/internal/lambda"
)

// Headers of a dead-letter message, beside the event's own.
const (
	hdrKind         = "Gust-Kind" // kindDestination or kindDeadLetter
	hdrCondition    = "Gust-Condition"
	hdrErrorType    = "Gust-Error-Type"
	hdrErrorMessage = "Gust-Error-Message"
)

func dlqSubject(queue string) string { return "gust.dlq." + queue }

// QueueInfo summarizes one dead-letter queue.
type QueueInfo struct {
	Name     string `json:"Name"`
	QueueArn string `json:"QueueArn"`
	Messages uint64 `json:"Messages"`
}

// DeadLetter is one message in a dead-letter queue.
type DeadLetter struct {
	Sequence     uint64          `json:"Sequence"`
	Time         time.Time       `json:"Time"`
	Kind         string          `json:"Kind"` // "dead-letter" (body = event) or "destination" (body = record)
	RequestID    string          `json:"RequestId"`
	Function     string          `json:"Function"`
	Qualifier    string          `json:"Qualifier,omitempty"`
	Condition    string          `json:"Condition"`
	ErrorType    string          `json:"ErrorType,omitempty"`
	ErrorMessage string          `json:"ErrorMessage,omitempty"`
	Body         json.RawMessage `json:"Body"`
}

// DeadLetterQueues lists the queues that hold messages.
func (q *Queue) DeadLetterQueues(ctx context.Context) ([]QueueInfo, error) {
	info, err := q.dlq.Info(ctx, jetstream.WithSubjectFilter(dlqSubject(">")))
	if err != nil {
		return nil, fmt.Errorf("list dead-letter queues: %w", err)
	}
	out := make([]QueueInfo, 0, len(info.State.Subjects))
	for subj, n := range info.State.Subjects {
		name := strings.TrimPrefix(subj, dlqSubject(""))
		out = append(out, QueueInfo{Name: name, QueueArn: q.queueARN(name), Messages: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (q *Queue) queueARN(name string) string {
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", q.opts.Identity.Region, q.opts.Identity.Account, name)
}

// DeadLetters returns up to limit messages of a queue, oldest first.
func (q *Queue) DeadLetters(ctx context.Context, queue string, limit int) ([]DeadLetter, error) {
	var out []DeadLetter
	err := q.eachDeadLetter(ctx, queue, func(d DeadLetter) (bool, error) {
		out = append(out, d)
		return len(out) < limit, nil
	})
	return out, err
}

// Redrive sends every message of a queue back to the async queue of its
// function, or of to when set, and removes each once it is accepted. It
// stops at the first message that cannot be accepted, leaving it and the
// rest in place.
func (q *Queue) Redrive(ctx context.Context, queue, to string) (int, error) {
	// Only what the queue holds now: a redriven event that fails again
	// lands behind this point and waits for the next redrive.
	info, err := q.dlq.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("redrive %s: %w", queue, err)
	}
	last := info.State.LastSeq
	n := 0
	err = q.eachDeadLetter(ctx, queue, func(d DeadLetter) (bool, error) {
		if d.Sequence > last {
			return false, nil
		}
		payload := []byte(d.Body)
		if d.Kind == kindSourceFailure {
			return false, lambda.KindInvalidParameterValue.Errorf("Message %d is an event source mapping's on-failure record: its records stay in their source and cannot be redriven to a function.", d.Sequence)
		}
		if d.Kind == kindDestination {
			var r record
			if err := json.Unmarshal(d.Body, &r); err != nil {
				return false, fmt.Errorf("message %d: not a destination record: %w", d.Sequence, err)
			}
			payload = r.RequestPayload
		}
		target, qualifier := d.Function, d.Qualifier
		if to != "" {
			target, qualifier = to, ""
		}
		if _, err := q.opts.Invoker.Invoke(ctx, invoke.Request{
			FunctionName: target, Qualifier: qualifier, Type: invoke.TypeEvent, Payload: payload,
		}); err != nil {
			return false, fmt.Errorf("message %d (request %s): %w", d.Sequence, d.RequestID, err)
		}
		if err := q.dlq.DeleteMsg(ctx, d.Sequence); err != nil {
			return false, fmt.Errorf("message %d redriven but not removed: %w", d.Sequence, err)
		}
		n++
		return true, nil
	})
	return n, err
}

// eachDeadLetter calls f with each message of queue in order until f
// returns false or an error.
func (q *Queue) eachDeadLetter(ctx context.Context, queue string, f func(DeadLetter) (bool, error)) error {
	if _, err := lambda.ParseDestination(q.queueARN(queue)); err != nil || queue == "" {
		return lambda.KindInvalidParameterValue.Errorf("Invalid queue name %q: use 1 to 80 characters from [A-Za-z0-9_-].", queue)
	}
	subj := dlqSubject(queue)
	for seq := uint64(1); ; {
		m, err := q.dlq.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read dead-letter queue %s: %w", queue, err)
		}
		d := DeadLetter{
			Sequence:     m.Sequence,
			Time:         m.Time,
			Kind:         m.Header.Get(hdrKind),
			RequestID:    m.Header.Get(hdrRequestID),
			Function:     m.Header.Get(hdrFunction),
			Qualifier:    m.Header.Get(hdrQualifier),
			Condition:    m.Header.Get(hdrCondition),
			ErrorType:    m.Header.Get(hdrErrorType),
			ErrorMessage: m.Header.Get(hdrErrorMessage),
			Body:         rawJSON(m.Data),
		}
		more, err := f(d)
		if err != nil || !more {
			return err
		}
		seq = m.Sequence + 1
	}
}

// SendRecord stores an event source mapping's on-failure record (body) in
// the Gust queue queueARN names; requestID and function are the failed
// invocation's. The record is kept like any dead letter but cannot be
// redriven: the records it describes stay in their source.
func (q *Queue) SendRecord(ctx context.Context, queueARN string, body []byte, requestID, function string) error {
	d, err := lambda.ParseDestination(queueARN)
	if err != nil {
		return err
	}
	if d.Kind != lambda.DestinationSQS || d.Region != q.opts.Identity.Region || d.Account != q.opts.Identity.Account {
		return lambda.KindInvalidParameterValue.Errorf("On-failure destination %s must be a Gust queue (an SQS ARN) in this region and account.", queueARN)
	}
	m := nats.NewMsg(dlqSubject(d.Name))
	m.Data = body
	m.Header.Set(hdrRequestID, requestID)
	m.Header.Set(hdrFunction, function)
	m.Header.Set(hdrKind, kindSourceFailure)
	m.Header.Set(hdrCondition, "RetryAttemptsExhausted")
	if _, err := q.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("store on-failure record in %s: %w", d.Name, err)
	}
	return nil
}
