package lambda

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseDestination(t *testing.T) {
	tests := []struct {
		arn  string
		want Destination
	}{
		{"arn:aws:lambda:us-east-1:123456789012:function:on-fail",
			Destination{Kind: DestinationLambda, Name: "on-fail", Region: "us-east-1", Account: "123456789012"}},
		{"arn:aws:lambda:eu-west-3:000000000000:function:f_1:$LATEST",
			Destination{Kind: DestinationLambda, Name: "f_1", Qualifier: "$LATEST", Region: "eu-west-3", Account: "000000000000"}},
		{"arn:aws:lambda:us-gov-west-1:123456789012:function:f:7",
			Destination{Kind: DestinationLambda, Name: "f", Qualifier: "7", Region: "us-gov-west-1", Account: "123456789012"}},
		{"arn:aws:lambda:us-east-1:123456789012:function:f:live",
			Destination{Kind: DestinationLambda, Name: "f", Qualifier: "live", Region: "us-east-1", Account: "123456789012"}},
		{"arn:aws:sqs:us-east-1:123456789012:failures",
			Destination{Kind: DestinationSQS, Name: "failures", Region: "us-east-1", Account: "123456789012"}},
		{"arn:aws:sqs:ap-southeast-2:123456789012:" + strings.Repeat("q", 80),
			Destination{Kind: DestinationSQS, Name: strings.Repeat("q", 80), Region: "ap-southeast-2", Account: "123456789012"}},
	}
	for _, tt := range tests {
		t.Run(tt.arn, func(t *testing.T) {
			got, err := ParseDestination(tt.arn)
			if err != nil {
				t.Fatalf("ParseDestination: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseDestination mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDestinationRejects(t *testing.T) {
	tests := []struct {
		name, arn, why string
	}{
		{"sns", "arn:aws:sns:us-east-1:123456789012:topic", "SNS topics are not supported"},
		{"eventbridge", "arn:aws:events:us-east-1:123456789012:event-bus/default", "EventBridge event buses are not supported"},
		{"s3", "arn:aws:s3:::bucket", "S3 buckets are not supported"},
		{"iam", "arn:aws:iam:us-east-1:123456789012:function:f", `the service "iam" cannot be a destination`},
		{"empty", "", "not an ARN"},
		{"not an arn", "my-queue", "not an ARN"},
		{"other partition", "arn:aws-cn:sqs:cn-north-1:123456789012:q", "not an ARN"},
		{"bad region", "arn:aws:sqs:moon:123456789012:q", `the region "moon"`},
		{"no region", "arn:aws:lambda::123456789012:function:f", `the region ""`},
		{"short account", "arn:aws:sqs:us-east-1:1234:q", "12-digit"},
		{"fifo queue", "arn:aws:sqs:us-east-1:123456789012:q.fifo", "queue name"},
		{"long queue name", "arn:aws:sqs:us-east-1:123456789012:" + strings.Repeat("q", 81), "queue name"},
		{"queue with colon", "arn:aws:sqs:us-east-1:123456789012:q:x", "queue name"},
		{"empty queue name", "arn:aws:sqs:us-east-1:123456789012:", "queue name"},
		{"lambda layer", "arn:aws:lambda:us-east-1:123456789012:layer:l:1", "function ARN"},
		{"lambda no name", "arn:aws:lambda:us-east-1:123456789012:function", "function ARN"},
		{"lambda bad name", "arn:aws:lambda:us-east-1:123456789012:function:a.b", "function ARN"},
		{"lambda too many parts", "arn:aws:lambda:us-east-1:123456789012:function:f:1:2", "function ARN"},
		{"lambda bad qualifier", "arn:aws:lambda:us-east-1:123456789012:function:f:", "qualifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDestination(tt.arn)
			if err == nil {
				t.Fatalf("ParseDestination(%q) = %+v, want an error", tt.arn, d)
			}
			if !errors.Is(err, ErrInvalidParameter) {
				t.Errorf("err = %v, want an InvalidParameterValueException", err)
			}
			msg := AsError(err).Message
			if !strings.Contains(msg, tt.why) {
				t.Errorf("message %q does not say %q", msg, tt.why)
			}
			if !strings.Contains(msg, SupportedDestinations) {
				t.Errorf("message %q does not say which kinds Gust supports", msg)
			}
		})
	}
}

func TestValidateDeadLetterTarget(t *testing.T) {
	for _, arn := range []string{"", "arn:aws:sqs:us-east-1:123456789012:dlq"} {
		if err := ValidateDeadLetterTarget(arn); err != nil {
			t.Errorf("ValidateDeadLetterTarget(%q) = %v, want nil", arn, err)
		}
	}
	for _, arn := range []string{
		"arn:aws:sns:us-east-1:123456789012:topic", // AWS takes it; Gust does not
		"arn:aws:lambda:us-east-1:123456789012:function:f",
		"arn:aws:sqs:us-east-1:123456789012:q.fifo",
		"dlq",
	} {
		err := ValidateDeadLetterTarget(arn)
		if !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("ValidateDeadLetterTarget(%q) = %v, want an InvalidParameterValueException", arn, err)
			continue
		}
		if msg := AsError(err).Message; !strings.Contains(msg, arn) || !strings.Contains(msg, "arn:aws:sqs:<region>:<account>:<queue-name>") {
			t.Errorf("message %q should name the ARN and the SQS form Gust takes", msg)
		}
	}
}

func TestEventInvokeConfigEffectiveValues(t *testing.T) {
	n := func(v int) *int { return &v }
	tests := []struct {
		name    string
		cfg     *EventInvokeConfig
		retries int
		age     time.Duration
	}{
		{"nil config", nil, 2, 6 * time.Hour},
		{"nothing set", &EventInvokeConfig{}, 2, 6 * time.Hour},
		{"zero retries", &EventInvokeConfig{MaximumRetryAttempts: n(0)}, 0, 6 * time.Hour},
		{"both set", &EventInvokeConfig{MaximumRetryAttempts: n(1), MaximumEventAgeInSeconds: n(60)}, 1, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.Retries(); got != tt.retries {
				t.Errorf("Retries() = %d, want %d", got, tt.retries)
			}
			if got := tt.cfg.MaxEventAge(); got != tt.age {
				t.Errorf("MaxEventAge() = %s, want %s", got, tt.age)
			}
		})
	}
}

func TestCompareQualifiers(t *testing.T) {
	got := []string{"live", "10", "$LATEST", "2", "beta", "1"}
	slices.SortFunc(got, CompareQualifiers)
	want := []string{"$LATEST", "1", "2", "10", "beta", "live"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sorted qualifiers (-want +got):\n%s", diff)
	}
}

func TestValidationFailed(t *testing.T) {
	if err := ValidationFailed(); err != nil {
		t.Errorf("ValidationFailed() = %v, want nil", err)
	}
	if v := RangeViolation("maximumRetryAttempts", 2, 0, 2); v != nil {
		t.Errorf("RangeViolation(2 in 0..2) = %+v, want nil", v)
	}
	one := ValidationFailed(*RangeViolation("maximumRetryAttempts", 3, 0, 2))
	want := "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"
	if e := AsError(one); e.Code != "ValidationException" || e.Status != 400 || e.Message != want {
		t.Errorf("one violation = %s %d %q, want ValidationException 400 %q", e.Code, e.Status, e.Message, want)
	}
	two := AsError(ValidationFailed(*RangeViolation("maximumRetryAttempts", -1, 0, 2), *RangeViolation("maximumEventAgeInSeconds", 59, 60, 21600)))
	want = "2 validation errors detected: Value '-1' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to 0; " +
		"Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"
	if two.Message != want {
		t.Errorf("two violations = %q, want %q", two.Message, want)
	}
}

func TestDestinationViolation(t *testing.T) {
	const member = "destinationConfig.onFailure.destination"
	for _, arn := range []string{"", "arn:aws:sns:us-east-1:123456789012:t", "arn:aws:s3:::bucket", "arn:aws:lambda:us-east-1:123456789012:function:f"} {
		if v := DestinationViolation(member, arn); v != nil {
			t.Errorf("DestinationViolation(%q) = %+v, want nil (the model allows it)", arn, v)
		}
	}
	v := DestinationViolation(member, "arn:aws:_-/!lambda:us-east-1:123456789012:function:f")
	if v == nil || !strings.HasPrefix(v.Constraint, "Member must satisfy regular expression pattern: ^$|arn:(aws[a-zA-Z0-9-]*)") {
		t.Errorf("bad pattern: violation %+v", v)
	}
	v = DestinationViolation(member, "arn:aws:sqs:us-east-1:123456789012:"+strings.Repeat("q", 330))
	if v == nil || v.Constraint != "Member must have length less than or equal to 350" {
		t.Errorf("too long: violation %+v", v)
	}
}

// FuzzParseDestination checks that ParseDestination never panics and that
// whatever it accepts is exactly the ARN its parts spell.
func FuzzParseDestination(f *testing.F) {
	for _, s := range []string{
		"arn:aws:lambda:us-east-1:123456789012:function:f:live",
		"arn:aws:sqs:us-east-1:123456789012:q",
		"arn:aws:sns:us-east-1:123456789012:t",
		"arn:aws:lambda:us-east-1:123456789012:function:f:1:2",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arn string) {
		d, err := ParseDestination(arn)
		if err != nil {
			if !errors.Is(err, ErrInvalidParameter) {
				t.Fatalf("ParseDestination(%q) error %v is not an InvalidParameterValueException", arn, err)
			}
			return
		}
		var back string
		switch d.Kind {
		case DestinationSQS:
			back = "arn:aws:sqs:" + d.Region + ":" + d.Account + ":" + d.Name
		case DestinationLambda:
			back = "arn:aws:lambda:" + d.Region + ":" + d.Account + ":function:" + d.Name
			if d.Qualifier != "" {
				back += ":" + d.Qualifier
			}
		default:
			t.Fatalf("ParseDestination(%q) kind %q", arn, d.Kind)
		}
		if back != arn {
			t.Fatalf("ParseDestination(%q) = %+v, which spells %q", arn, d, back)
		}
	})
}
