package s3events

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gust/internal/invoke"
	"gust/internal/lambda"
)

func config(cs ...LambdaFunctionConfiguration) NotificationConfiguration {
	return NotificationConfiguration{LambdaFunctionConfigurations: cs}
}

func prefixSuffix(prefix, suffix string) *Filter {
	var rules []FilterRule
	if prefix != "" {
		rules = append(rules, FilterRule{Name: "prefix", Value: prefix})
	}
	if suffix != "" {
		rules = append(rules, FilterRule{Name: "suffix", Value: suffix})
	}
	return &Filter{Key: &KeyFilter{FilterRules: rules}}
}

// A configuration round-trips in S3's shape: ids filled in, rule names
// capitalised; an empty one removes the bucket's.
func TestPutGetBucketNotification(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.pols.set(t, "thumb", "", allowS3(fnARN("thumb"), "photos"))
	in := config(LambdaFunctionConfiguration{LambdaFunctionArn: fnARN("thumb"), Events: []string{"s3:ObjectCreated:*", "s3:ObjectCreated:*"},
		Filter: prefixSuffix("img/", ".jpg")})
	stored, err := f.svc.PutBucketNotification(ctx, "photos", in)
	if err != nil {
		t.Fatalf("PutBucketNotification: %v", err)
	}
	c := stored.LambdaFunctionConfigurations[0]
	if c.ID == "" {
		t.Error("no id was assigned")
	}
	want := LambdaFunctionConfiguration{ID: c.ID, LambdaFunctionArn: fnARN("thumb"), Events: []string{"s3:ObjectCreated:*"},
		Filter: &Filter{Key: &KeyFilter{FilterRules: []FilterRule{{Name: "Prefix", Value: "img/"}, {Name: "Suffix", Value: ".jpg"}}}}}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("stored configuration (-want +got):\n%s", diff)
	}
	// Another node reads the same configuration.
	got, err := f.open(t).GetBucketNotification(ctx, "photos")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stored, got); diff != "" {
		t.Errorf("GetBucketNotification (-put +get):\n%s", diff)
	}
	b, _ := json.Marshal(got)
	if !strings.Contains(string(b), `"LambdaFunctionConfigurations":[{"Id":`) || strings.Contains(string(b), "TopicConfigurations") {
		t.Errorf("configuration JSON is not S3's shape: %s", b)
	}
	if _, err := f.svc.PutBucketNotification(ctx, "photos", NotificationConfiguration{}); err != nil {
		t.Fatal(err)
	}
	if got, err = f.svc.GetBucketNotification(ctx, "photos"); err != nil || got.LambdaFunctionConfigurations == nil || len(got.LambdaFunctionConfigurations) != 0 {
		t.Errorf("after an empty put: %+v, %v; want an empty (non-null) list", got, err)
	}
}

// Configurations S3 refuses are refused with its InvalidArgument (or
// InvalidBucketName), and nothing is stored.
func TestPutBucketNotificationValidation(t *testing.T) {
	f := newFixture(t)
	f.pols.set(t, "fn", "", allowS3(fnARN("fn"), "b*"))
	ok := func(edit func(c *LambdaFunctionConfiguration)) LambdaFunctionConfiguration {
		c := LambdaFunctionConfiguration{ID: "one", LambdaFunctionArn: fnARN("fn"), Events: []string{"s3:ObjectCreated:Put"}}
		edit(&c)
		return c
	}
	for _, tc := range []struct {
		name, bucket string
		cfg          NotificationConfiguration
		kind         lambda.Kind
		message      string
	}{
		{"unknown event", "bkt", config(ok(func(c *LambdaFunctionConfiguration) { c.Events = []string{"s3:ObjectAccessed:Get"} })), KindInvalidArgument, "The event is not supported for notifications: s3:ObjectAccessed:Get"},
		{"event without s3:", "bkt", config(ok(func(c *LambdaFunctionConfiguration) { c.Events = []string{"ObjectCreated:Put"} })), KindInvalidArgument, "not supported"},
		{"wildcard of a single event", "bkt", config(ok(func(c *LambdaFunctionConfiguration) { c.Events = []string{"s3:ObjectAcl:*"} })), KindInvalidArgument, "not supported"},
		{"no events", "bkt", config(ok(func(c *LambdaFunctionConfiguration) { c.Events = nil })), KindInvalidArgument, "at least one event"},
		{"bad rule name", "bkt", config(ok(func(c *LambdaFunctionConfiguration) {
			c.Filter = &Filter{Key: &KeyFilter{FilterRules: []FilterRule{{Name: "infix", Value: "x"}}}}
		})), KindInvalidArgument, "FilterRule name must be either prefix or suffix"},
		{"two prefixes", "bkt", config(ok(func(c *LambdaFunctionConfiguration) {
			c.Filter = &Filter{Key: &KeyFilter{FilterRules: []FilterRule{{Name: "Prefix", Value: "a"}, {Name: "prefix", Value: "b"}}}}
		})), KindInvalidArgument, "more than one prefix"},
		{"name not an ARN", "bkt", config(ok(func(c *LambdaFunctionConfiguration) { c.LambdaFunctionArn = "fn" })), KindInvalidArgument, "The ARN is not well formed"},
		{"another region", "bkt", config(ok(func(c *LambdaFunctionConfiguration) {
			c.LambdaFunctionArn = "arn:aws:lambda:eu-west-1:123456789012:function:fn"
		})), KindInvalidArgument, "region us-east-1"},
		{"duplicate id", "bkt", config(ok(func(*LambdaFunctionConfiguration) {}),
			ok(func(c *LambdaFunctionConfiguration) { c.Events = []string{"s3:ObjectRemoved:*"} })), KindInvalidArgument, "Same ID"},
		{"overlap", "bkt", config(ok(func(c *LambdaFunctionConfiguration) { c.Filter = prefixSuffix("img/", "") }),
			ok(func(c *LambdaFunctionConfiguration) {
				c.ID, c.Events, c.Filter = "two", []string{"s3:ObjectCreated:*"}, prefixSuffix("img/2025/", ".jpg")
			})), KindInvalidArgument, "Configurations overlap"},
		{"topic", "bkt", NotificationConfiguration{TopicConfigurations: json.RawMessage(`[{"TopicArn":"arn:aws:sns:us-east-1:123456789012:t","Events":["s3:ObjectCreated:*"]}]`)},
			KindInvalidArgument, "functions only"},
		{"bucket name", "-bad-", config(ok(func(*LambdaFunctionConfiguration) {})), KindInvalidBucketName, "not valid"},
		{"bucket name with ..", "a..b", config(ok(func(*LambdaFunctionConfiguration) {})), KindInvalidBucketName, "not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.PutBucketNotification(t.Context(), tc.bucket, tc.cfg)
			var e *lambda.Error
			if !errors.As(err, &e) || e.Kind != tc.kind || !strings.Contains(e.Message, tc.message) {
				t.Fatalf("PutBucketNotification = %v; want %s containing %q", err, tc.kind.Code, tc.message)
			}
		})
	}
	// Disjoint filters, or different event types, do not overlap.
	good := config(ok(func(c *LambdaFunctionConfiguration) { c.Filter = prefixSuffix("img/", "") }),
		ok(func(c *LambdaFunctionConfiguration) { c.ID, c.Filter = "two", prefixSuffix("doc/", "") }),
		ok(func(c *LambdaFunctionConfiguration) { c.ID, c.Events = "three", []string{"s3:ObjectRemoved:*"} }))
	if _, err := f.svc.PutBucketNotification(t.Context(), "bkt", good); err != nil {
		t.Errorf("non-overlapping configurations refused: %v", err)
	}
}

// A function whose policy does not let s3.amazonaws.com invoke it for
// the bucket is refused with S3's own error, as is one with no policy or
// none at the alias the ARN names.
func TestPutBucketNotificationChecksPermission(t *testing.T) {
	f := newFixture(t)
	f.pols.set(t, "fn", "", allowS3(fnARN("fn"), "photos"))
	f.pols.set(t, "iamonly", "", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"lambda:InvokeFunction","Resource":"`+fnARN("iamonly")+`"}]}`)
	f.pols.set(t, "fn", "live", allowS3(fnARN("fn")+":live", "photos"))
	put := func(bucket, arn string) error {
		_, err := f.svc.PutBucketNotification(t.Context(), bucket, config(LambdaFunctionConfiguration{LambdaFunctionArn: arn, Events: []string{"s3:ObjectCreated:*"}}))
		return err
	}
	for _, tc := range []struct {
		bucket, arn string
		allowed     bool
	}{
		{"photos", fnARN("fn"), true},
		{"photos", fnARN("fn") + ":live", true},
		{"photos", fnARN("fn") + ":$LATEST", true},
		{"other", fnARN("fn"), false},            // aws:SourceArn names another bucket
		{"photos", fnARN("fn") + ":beta", false}, // the alias has no policy of its own
		{"photos", fnARN("iamonly"), false},      // no statement for s3.amazonaws.com
		{"photos", fnARN("missing"), false},      // no such function
	} {
		err := put(tc.bucket, tc.arn)
		if tc.allowed && err != nil {
			t.Errorf("%s for %s: %v, want it allowed", tc.arn, tc.bucket, err)
		}
		var e *lambda.Error
		if !tc.allowed && (!errors.As(err, &e) || e.Code != "InvalidArgument" || e.Status != 400 || e.Message != "Unable to validate the following destination configurations") {
			t.Errorf("%s for %s: %v; want InvalidArgument (400) \"Unable to validate the following destination configurations\"", tc.arn, tc.bucket, err)
		}
	}
	// A policy read that fails is a platform fault, not a refusal.
	f.pols.err = errors.New("store down")
	if err := put("photos", fnARN("fn")); err == nil || isKind(err, KindInvalidArgument) {
		t.Errorf("put with the policy store down = %v, want a platform error", err)
	}
}

// The webhook token is one HMAC shared by every node of one NATS and kept
// across restarts; another installation has another.
func TestWebhookTokenIsStableAndShared(t *testing.T) {
	f := newFixture(t)
	second := f.open(t)
	if f.svc.WebhookPath() != second.WebhookPath() {
		t.Errorf("two nodes serve %s and %s, want one path", f.svc.WebhookPath(), second.WebhookPath())
	}
	tok := strings.TrimPrefix(f.svc.WebhookPath(), WebhookPathPrefix)
	if len(tok) != 43 || !f.svc.ValidToken(tok) || second.ValidToken(tok+"x") || second.ValidToken("") {
		t.Errorf("token %q: want 43 characters, valid only as it is", tok)
	}
	if other := newFixture(t); other.svc.ValidToken(tok) {
		t.Error("another installation accepts this installation's token")
	}
}

// Delivery: each record goes to the configurations whose event types and
// filters match it, one Event invocation each, with configurationId set;
// one the policy no longer allows is counted and logged, not invoked; one
// the invoke service refuses is counted; a platform fault is an error.
func TestDeliverMatchesAndInvokes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for _, fn := range []string{"created", "jpg", "removed", "gone"} {
		f.pols.set(t, fn, "", allowS3(fnARN(fn), "photos"))
	}
	_, err := f.svc.PutBucketNotification(ctx, "photos", config(
		LambdaFunctionConfiguration{ID: "created", LambdaFunctionArn: fnARN("created"), Events: []string{"s3:ObjectCreated:*"}, Filter: prefixSuffix("a+", "")},
		LambdaFunctionConfiguration{ID: "jpg", LambdaFunctionArn: fnARN("jpg"), Events: []string{"s3:ObjectCreated:Put"}, Filter: prefixSuffix("dir/", ".json")},
		LambdaFunctionConfiguration{ID: "removed", LambdaFunctionArn: fnARN("removed"), Events: []string{"s3:ObjectRemoved:Delete"}},
		LambdaFunctionConfiguration{ID: "gone", LambdaFunctionArn: fnARN("gone"), Events: []string{"s3:ObjectTagging:*"}},
	))
	if err != nil {
		t.Fatal(err)
	}
	// "a b+c.txt" matches the prefix "a+" (form-encoded "a "); "dir/ü.json" the other.
	for _, file := range []string{"versitygw-put.json", "minio-put.json", "minio-delete.json", "ceph-lifecycle.json"} {
		if _, err := f.svc.Deliver(ctx, readFixture(t, file)); err != nil {
			t.Fatalf("Deliver(%s): %v", file, err)
		}
	}
	type call struct{ Function, Config, Key, Name string }
	var got []call
	for _, req := range f.inv.snapshot() {
		if req.Type != invoke.TypeEvent {
			t.Errorf("invocation type %q, want Event", req.Type)
		}
		ev := checkEvent(t, req.Payload, lacksVersion, lacksSize, lacksETag)
		r := ev.Records[0]
		got = append(got, call{req.FunctionName, r.S3.ConfigurationID, r.S3.Object.Key, r.EventName})
	}
	want := []call{
		{fnARN("created"), "created", "a+b%2Bc.txt", "ObjectCreated:Put"},
		{fnARN("jpg"), "jpg", "dir/%C3%BC.json", "ObjectCreated:Put"},
		{fnARN("removed"), "removed", "a+b%2Bc.txt", "ObjectRemoved:Delete"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("invocations (-want +got):\n%s", diff)
	}

	// The policy is removed after the configuration was saved: refused.
	f.pols.remove("created", "")
	d, err := f.svc.Deliver(ctx, readFixture(t, "versitygw-put.json"))
	if err != nil || d.Refused != 1 || d.Invocations != 0 || f.svc.Stats().Refused != 1 {
		t.Errorf("Deliver after the policy was removed = %+v, %v (stats %+v); want 1 refused, none invoked", d, err, f.svc.Stats())
	}
	// The function was deleted: the invoke service refuses; counted, no error.
	f.inv.errs[fnARN("removed")] = lambda.FunctionNotFound(fnARN("removed"))
	d, err = f.svc.Deliver(ctx, readFixture(t, "minio-delete.json"))
	if err != nil || d.Failed != 1 || f.svc.Stats().Failed != 1 {
		t.Errorf("Deliver to a deleted function = %+v, %v; want 1 failed and no error", d, err)
	}
	// The queue is down: an error, so the store retries.
	f.inv.errs[fnARN("jpg")] = errors.New("jetstream: no responders")
	if _, err := f.svc.Deliver(ctx, readFixture(t, "minio-put.json")); err == nil || errors.Is(err, ErrMalformedEvent) {
		t.Errorf("Deliver with the queue down = %v, want a platform error", err)
	}
	// A throttle is retried by the store too.
	f.inv.errs[fnARN("jpg")] = lambda.Throttled(lambda.ReasonConcurrentInvocationLimitExceeded)
	if _, err := f.svc.Deliver(ctx, readFixture(t, "minio-put.json")); err == nil {
		t.Error("Deliver throttled = nil, want an error so that the store retries")
	}
	if s := f.svc.Stats(); s.Invocations != 3 || s.Notifications < 7 {
		t.Errorf("stats %+v: want 3 invocations of 7 or more notifications", s)
	}
	// After Close, every call is a platform error.
	_ = f.svc.Close()
	if _, err := f.svc.Deliver(ctx, readFixture(t, "minio-put.json")); err == nil {
		t.Error("Deliver after Close = nil, want an error")
	}
}
