package lambda

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gust/internal/lazyre"
)

// Asynchronous invocation settings (docs/lambda-compat.md §3.5).
const (
	DefaultAsyncRetries       = 2     // retries after the first attempt when no config sets them
	MaxAsyncRetries           = 2     // MaximumRetryAttempts is 0–MaxAsyncRetries
	DefaultMaxEventAgeSeconds = 21600 // six hours
	MinEventAgeSeconds        = 60
	MaxEventAgeSeconds        = 21600
	MaxDestinationARNLength   = 350 // the model's length limit of a destination ARN
	MaxEventInvokeConfigPage  = 50  // ListFunctionEventInvokeConfigs' MaxItems ceiling
)

// EventInvokeConfig is the asynchronous invocation configuration of one
// qualifier of a function, as Gust stores it (PutFunctionEventInvokeConfig).
// A nil limit means "not set": Retries and MaxEventAge give the value in
// force. An empty destination means none.
type EventInvokeConfig struct {
	FunctionName string `json:"functionName"`
	// Qualifier is "$LATEST", a version number or an alias name.
	Qualifier string `json:"qualifier"`
	// MaximumRetryAttempts is 0–MaxAsyncRetries; nil = DefaultAsyncRetries.
	MaximumRetryAttempts *int `json:"maximumRetryAttempts,omitempty"`
	// MaximumEventAgeInSeconds is MinEventAgeSeconds–MaxEventAgeSeconds;
	// nil = DefaultMaxEventAgeSeconds.
	MaximumEventAgeInSeconds *int      `json:"maximumEventAgeInSeconds,omitempty"`
	OnSuccess                string    `json:"onSuccess,omitempty"` // destination ARN; see ParseDestination
	OnFailure                string    `json:"onFailure,omitempty"`
	LastModified             time.Time `json:"lastModified"`
}

// Retries is the number of retries in force after a failed first attempt.
func (c *EventInvokeConfig) Retries() int {
	if c == nil || c.MaximumRetryAttempts == nil {
		return DefaultAsyncRetries
	}
	return *c.MaximumRetryAttempts
}

// MaxEventAge is how long an event may wait in the queue before it is
// given up on.
func (c *EventInvokeConfig) MaxEventAge() time.Duration {
	if c == nil || c.MaximumEventAgeInSeconds == nil {
		return DefaultMaxEventAgeSeconds * time.Second
	}
	return time.Duration(*c.MaximumEventAgeInSeconds) * time.Second
}

// Destination kinds Gust can deliver to.
const (
	DestinationLambda = "lambda" // a function, invoked asynchronously with the record
	DestinationSQS    = "sqs"    // a Gust queue, named with an SQS ARN
)

// Destination is a parsed destination (or dead-letter) ARN.
type Destination struct {
	Kind      string // DestinationLambda or DestinationSQS
	Name      string // function or queue name
	Qualifier string // Lambda only: version or alias, "" when the ARN has none
	Region    string
	Account   string
}

// SupportedDestinations says, in words for error messages, which
// destinations Gust accepts.
const SupportedDestinations = "Gust supports two destination kinds: a Lambda function " +
	"(arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]) and a Gust queue written as an SQS ARN " +
	"(arn:aws:sqs:<region>:<account>:<queue-name>, a name of 1 to 80 characters from [A-Za-z0-9_-])"

var queueNamePattern = lazyre.New(`^[A-Za-z0-9_-]{1,80}$`)

// unsupportedServices names the AWS destination kinds Gust cannot deliver to.
var unsupportedServices = map[string]string{
	"sns":    "SNS topics",
	"events": "EventBridge event buses",
	"s3":     "S3 buckets",
}

// ParseDestination parses a destination ARN of a kind Gust supports: a
// Lambda function (arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>])
// or a Gust queue written as an SQS ARN (arn:aws:sqs:<region>:<account>:<queue-name>).
// Anything else, including the SNS, EventBridge and S3 destinations AWS
// accepts, is an InvalidParameterValueException that says what Gust
// supports. It checks form only, not that the target exists.
func ParseDestination(arn string) (Destination, error) {
	bad := func(why string) (Destination, error) {
		return Destination{}, KindInvalidParameterValue.Errorf("Destination %s is not supported: %s. %s.", arn, why, SupportedDestinations)
	}
	parts := strings.Split(arn, ":")
	if len(parts) < 6 || parts[0] != "arn" || parts[1] != "aws" {
		return bad("it is not an ARN of the form arn:aws:<service>:<region>:<account>:<resource>")
	}
	service, region, account := parts[2], parts[3], parts[4]
	if what, ok := unsupportedServices[service]; ok {
		return bad(what + " are not supported as destinations by Gust")
	}
	if service != DestinationLambda && service != DestinationSQS {
		return bad("the service " + strconv.Quote(service) + " cannot be a destination")
	}
	if !regionPattern.MatchString(region) {
		return bad("the region " + strconv.Quote(region) + " is not valid")
	}
	if !accountPattern.MatchString(account) {
		return bad("the account " + strconv.Quote(account) + " is not a 12-digit account id")
	}
	d := Destination{Kind: service, Region: region, Account: account}
	if service == DestinationSQS {
		if len(parts) != 6 || !queueNamePattern.MatchString(parts[5]) {
			return bad("the queue name must be 1 to 80 characters from [A-Za-z0-9_-]")
		}
		d.Name = parts[5]
		return d, nil
	}
	if len(parts) < 7 || len(parts) > 8 || parts[5] != "function" || !namePattern.MatchString(parts[6]) {
		return bad("a Lambda destination must be a function ARN, arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]")
	}
	d.Name = parts[6]
	if len(parts) == 8 {
		if !qualifierPattern.MatchString(parts[7]) {
			return bad("the qualifier " + strconv.Quote(parts[7]) + " is not valid")
		}
		d.Qualifier = parts[7]
	}
	return d, nil
}

// ValidateDeadLetterTarget checks DeadLetterConfig.TargetArn. AWS takes an
// SQS queue or an SNS topic; Gust takes only Gust queues, written as SQS
// ARNs. An empty ARN (no dead-letter queue) is valid.
func ValidateDeadLetterTarget(arn string) error {
	if arn == "" {
		return nil
	}
	d, err := ParseDestination(arn)
	if err == nil && d.Kind == DestinationSQS {
		return nil
	}
	return KindInvalidParameterValue.Errorf("The dead-letter queue target %s is not supported: Gust takes only a Gust queue, written as an SQS ARN "+
		"(arn:aws:sqs:<region>:<account>:<queue-name>, a name of 1 to 80 characters from [A-Za-z0-9_-]), as DeadLetterConfig.TargetArn", arn)
}

// CompareQualifiers orders qualifiers as lists show them: $LATEST first,
// then versions by number, then aliases by name.
func CompareQualifiers(a, b string) int {
	rank := func(q string) int {
		switch {
		case q == LatestVersion:
			return 0
		case versionPattern.MatchString(q):
			return 1
		default:
			return 2
		}
	}
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra - rb
	}
	if ra == 1 && len(a) != len(b) { // numbers without leading zeros
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// Violation is one failed model constraint: the value sent, the member's
// path as the model spells it (maximumRetryAttempts,
// destinationConfig.onFailure.destination) and the constraint.
type Violation struct {
	Value      string
	Member     string
	Constraint string
}

// ValidationFailed renders violations the way Lambda does: "1 validation
// error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy
// constraint: Member must have value less than or equal to 2", joined with
// "; " when there are several. It returns nil for no violations.
func ValidationFailed(vs ...Violation) error {
	if len(vs) == 0 {
		return nil
	}
	msgs := make([]string, len(vs))
	for i, v := range vs {
		msgs[i] = fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", v.Value, v.Member, v.Constraint)
	}
	noun := "errors"
	if len(vs) == 1 {
		noun = "error"
	}
	return KindValidation.Errorf("%d validation %s detected: %s", len(vs), noun, strings.Join(msgs, "; "))
}

// RangeViolation checks min ≤ n ≤ max for member and describes the
// violated bound, or returns nil.
func RangeViolation(member string, n, lo, hi int) *Violation {
	v := &Violation{Value: strconv.Itoa(n), Member: member}
	switch {
	case n < lo:
		v.Constraint = fmt.Sprintf("Member must have value greater than or equal to %d", lo)
	case n > hi:
		v.Constraint = fmt.Sprintf("Member must have value less than or equal to %d", hi)
	default:
		return nil
	}
	return v
}

// destinationModelPattern is the model's pattern for a destination ARN;
// matching it says nothing about whether Gust supports the destination.
const destinationModelPattern = `^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)`

var destinationModelRE = lazyre.New(`^(?:` + destinationModelPattern + `)$`)

// DestinationViolation checks a destination ARN against the model's length
// and pattern constraints for member (destinationConfig.onSuccess.destination
// or destinationConfig.onFailure.destination), or returns nil.
func DestinationViolation(member, arn string) *Violation {
	switch {
	case len(arn) > MaxDestinationARNLength:
		return &Violation{Value: arn, Member: member, Constraint: fmt.Sprintf("Member must have length less than or equal to %d", MaxDestinationARNLength)}
	case !destinationModelRE.MatchString(arn):
		return &Violation{Value: arn, Member: member, Constraint: "Member must satisfy regular expression pattern: " + destinationModelPattern}
	}
	return nil
}

// Wire errors of the event-invoke-config operations, in the words Lambda
// uses.

// FunctionDoesNotExist is what Put, Update and List send for an unknown
// function or qualifier.
func FunctionDoesNotExist() *Error {
	return KindResourceNotFound.Errorf("The function doesn't exist.")
}

// EventInvokeConfigNotFound is what Get, Update and Delete send when the
// qualified function arn has no config (or does not exist).
func EventInvokeConfigNotFound(arn string) *Error {
	return KindResourceNotFound.Errorf("The function %s doesn't have an EventInvokeConfig", arn)
}

// EventInvokeConfigEmpty is the refusal of a Put or Update that sets
// nothing.
func EventInvokeConfigEmpty() *Error {
	return KindInvalidParameterValue.Errorf("You must specify at least one of error handling or destination setting.")
}

// DestinationConfigInvalid is the refusal of a destination of a kind Gust
// does not deliver to: Lambda's sentence naming both destinations ("" is
// shown as null), then why.
func DestinationConfigInvalid(onSuccess, onFailure, why string) *Error {
	show := func(kind, arn string) string {
		if arn == "" {
			return "null"
		}
		return kind + "(destination=" + arn + ")"
	}
	return KindInvalidParameterValue.Errorf("The provided destination config DestinationConfig(onSuccess=%s, onFailure=%s) is invalid. %s",
		show("OnSuccess", onSuccess), show("OnFailure", onFailure), why)
}

// DestinationARNInvalid is the refusal of a well-formed destination that
// does not name something Gust can deliver to (a function that does not
// exist, another account); why may be empty.
func DestinationARNInvalid(arn, why string) *Error {
	msg := "The destination ARN " + arn + " is invalid."
	if why != "" {
		msg += " " + why
	}
	return &Error{Kind: KindInvalidParameterValue, Message: msg}
}

// DestinationIsSelf is the refusal of a function as its own destination.
func DestinationIsSelf() *Error {
	return KindInvalidParameterValue.Errorf("You can't specify the function as a destination for itself.")
}

// QualifierMismatch is the refusal of a qualified FunctionName together
// with a different Qualifier parameter.
func QualifierMismatch() *Error {
	return KindInvalidParameterValue.Errorf("The derived qualifier from the function name does not match the specified qualifier.")
}
