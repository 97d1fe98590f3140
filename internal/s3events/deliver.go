package s3events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"gust/internal/invoke"
	"gust/internal/lambda"
	"gust/internal/natsd"
)

// errClosed is the platform error of a webhook call after Close: the
// store keeps the event and retries, reaching a node that runs.
var errClosed = errors.New("s3events: service closed")

// Delivery is what one webhook call did.
type Delivery struct {
	Notifications int `json:"Notifications"` // records S3 has a name for
	Invocations   int `json:"Invocations"`   // Event invocations queued durably
	Refused       int `json:"Refused"`       // matches whose function does not allow s3.amazonaws.com
	Failed        int `json:"Failed"`        // matches the invoke service refused (say, the function is gone)
}

// Deliver normalizes a webhook body to AWS's S3 events and queues one
// Event invocation per matching configuration of each record's bucket,
// returning once all of them are queued durably. A match whose function's
// policy no longer allows s3.amazonaws.com is not invoked, and is counted
// and logged, as is one the invoke service refuses; neither fails the
// call, since the store retrying cannot change them. A body that is not
// an event is ErrMalformedEvent. Any other error is a platform fault
// (a bucket or the queue unavailable): some invocations may have been
// queued, and the store's retry delivers those again (at least once, as
// S3 does).
func (s *Service) Deliver(ctx context.Context, body []byte) (Delivery, error) {
	var d Delivery
	if s.isClosed() {
		return d, errClosed
	}
	in, skipped, err := s.parseBody(body)
	s.stats.unsupported.Add(uint64(skipped))
	if err != nil {
		return d, err
	}
	d.Notifications = len(in)
	s.stats.notifications.Add(uint64(len(in)))
	r := deliveryRun{s: s, d: &d, configs: map[string]*NotificationConfiguration{}, allowed: map[[2]string]bool{}}
	var errs []error
	for i := range in {
		if err := r.deliver(ctx, &in[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return d, errors.Join(errs...)
}

// deliveryRun is one Deliver call: configurations and permission checks
// are read once per call, however many records share them.
type deliveryRun struct {
	s       *Service
	d       *Delivery
	configs map[string]*NotificationConfiguration // bucket → configuration (nil: none)
	allowed map[[2]string]bool                    // (bucket, function ARN) → may invoke
}

// deliver queues ev to every configuration of its bucket that matches it.
func (r *deliveryRun) deliver(ctx context.Context, ev *incoming) error {
	cfg, err := r.config(ctx, ev.bucket)
	if err != nil || cfg == nil {
		return err
	}
	var errs []error
	for i := range cfg.LambdaFunctionConfigurations {
		c := &cfg.LambdaFunctionConfigurations[i]
		if !c.matches(ev.name, ev.key) {
			continue
		}
		if err := r.invoke(ctx, ev, c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// config reads a bucket's configuration once per run.
func (r *deliveryRun) config(ctx context.Context, bucket string) (*NotificationConfiguration, error) {
	if cfg, ok := r.configs[bucket]; ok {
		return cfg, nil
	}
	var cfg *NotificationConfiguration
	if ValidBucketName(bucket) {
		var err error
		if cfg, _, err = natsd.GetJSON[NotificationConfiguration](ctx, r.s.kv, bucketPrefix+bucket); err != nil {
			return nil, fmt.Errorf("deliver event of %s: %w", bucket, err)
		}
	}
	r.configs[bucket] = cfg
	return cfg, nil
}

// invoke checks the function's policy and queues the event for c.
func (r *deliveryRun) invoke(ctx context.Context, ev *incoming, c *LambdaFunctionConfiguration) error {
	s := r.s
	k := [2]string{ev.bucket, c.LambdaFunctionArn}
	ok, checked := r.allowed[k]
	if !checked {
		var err error
		if ok, err = s.mayInvoke(ctx, ev.bucket, c.LambdaFunctionArn); err != nil {
			return fmt.Errorf("deliver event of %s: %w", ev.bucket, err)
		}
		r.allowed[k] = ok
	}
	if !ok {
		r.d.Refused++
		s.stats.refused.Add(1)
		s.log.Warn("object-store event not delivered: the function's resource policy does not allow s3.amazonaws.com",
			"bucket", ev.bucket, "key", ev.rec.S3.Object.Key, "event_name", ev.name, "configuration", c.ID, "function", c.LambdaFunctionArn)
		return nil
	}
	rec := ev.rec
	rec.S3.ConfigurationID = c.ID
	payload, err := encodeEvent(rec)
	if err != nil {
		return err
	}
	_, err = s.opts.Invoker.Invoke(ctx, invoke.Request{FunctionName: c.LambdaFunctionArn, Type: invoke.TypeEvent, Payload: payload})
	var refused *lambda.Error
	switch {
	case err == nil:
		r.d.Invocations++
		s.stats.invocations.Add(1)
		return nil
	case errors.As(err, &refused) && refused.Type == "User" && refused.Kind != lambda.KindTooManyRequests:
		r.d.Failed++
		s.stats.failed.Add(1)
		s.log.Warn("object-store event not delivered: the function refused it",
			"bucket", ev.bucket, "key", ev.rec.S3.Object.Key, "configuration", c.ID, "function", c.LambdaFunctionArn, "err", err)
		return nil
	}
	return fmt.Errorf("deliver event of %s to %s: %w", ev.bucket, c.LambdaFunctionArn, err)
}

// encodeEvent renders one record as the function's event: compact, with
// <, > and & left as they are, as S3 sends them.
func encodeEvent(rec record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(event{Records: []record{rec}}); err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
