package s3events

import (
	"encoding/json"
	"strings"

	"github.com/google/uuid"

	"gust/internal/lambda"
	"gust/internal/lazyre"
)

// NotificationConfiguration is a bucket's notification configuration in
// the shape of S3's PutBucketNotificationConfiguration, field names as
// S3's (and the AWS CLI's JSON) spell them. Gust delivers to functions
// only: Topic, Queue and EventBridge configurations are refused, not
// silently dropped.
type NotificationConfiguration struct {
	LambdaFunctionConfigurations []LambdaFunctionConfiguration `json:"LambdaFunctionConfigurations"`
	// These are S3's other destinations; any of them present is an
	// InvalidArgument. They are kept raw only to be recognised.
	TopicConfigurations      json.RawMessage `json:"TopicConfigurations,omitempty"`
	QueueConfigurations      json.RawMessage `json:"QueueConfigurations,omitempty"`
	EventBridgeConfiguration json.RawMessage `json:"EventBridgeConfiguration,omitempty"`
}

// LambdaFunctionConfiguration sends the bucket's events of the listed
// types, whose keys pass Filter, to one function.
type LambdaFunctionConfiguration struct {
	// ID names the configuration; events carry it as s3.configurationId.
	// Empty on input: a new random id, as S3 assigns one.
	ID string `json:"Id"`
	// LambdaFunctionArn is the function's ARN, optionally qualified by a
	// version or alias; it must be of this server's region and account.
	LambdaFunctionArn string `json:"LambdaFunctionArn"`
	// Events are S3 event types such as s3:ObjectCreated:* or
	// s3:ObjectRemoved:Delete.
	Events []string `json:"Events"`
	// Filter limits the configuration to keys with a prefix and/or suffix.
	Filter *Filter `json:"Filter,omitempty"`
}

// Filter is S3's NotificationConfigurationFilter.
type Filter struct {
	Key *KeyFilter `json:"Key,omitempty"`
}

// KeyFilter holds at most one prefix and one suffix rule.
type KeyFilter struct {
	FilterRules []FilterRule `json:"FilterRules"`
}

// FilterRule is {"Name":"Prefix"|"Suffix","Value":…}. S3 accepts the
// name in any case and returns it capitalised; so does Gust.
type FilterRule struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// Limits of a configuration. S3 documents none for the count; Gust bounds
// it so that matching and the overlap check stay cheap.
const (
	maxConfigurations = 100
	maxIDLength       = 255
	maxFilterValue    = 1024
)

// deliveredEvents are the event names S3 puts in records (eventName,
// without the "s3:" of configurations).
var deliveredEvents = map[string]bool{
	"ObjectCreated:Put": true, "ObjectCreated:Post": true, "ObjectCreated:Copy": true,
	"ObjectCreated:CompleteMultipartUpload": true,
	"ObjectRemoved:Delete":                  true, "ObjectRemoved:DeleteMarkerCreated": true,
	"ObjectRestore:Post": true, "ObjectRestore:Completed": true, "ObjectRestore:Delete": true,
	"ReducedRedundancyLostObject":            true,
	"Replication:OperationFailedReplication": true, "Replication:OperationMissedThreshold": true,
	"Replication:OperationReplicatedAfterThreshold": true, "Replication:OperationNotTracked": true,
	"LifecycleExpiration:Delete": true, "LifecycleExpiration:DeleteMarkerCreated": true,
	"LifecycleTransition": true, "IntelligentTiering": true,
	"ObjectTagging:Put": true, "ObjectTagging:Delete": true,
	"ObjectAcl:Put": true,
}

// wildcardFamilies are the families a configuration may subscribe to
// whole with "s3:<family>:*".
var wildcardFamilies = map[string]bool{
	"ObjectCreated": true, "ObjectRemoved": true, "ObjectRestore": true,
	"Replication": true, "LifecycleExpiration": true, "ObjectTagging": true,
}

// validEventType reports whether a configuration may name t.
func validEventType(t string) bool {
	name, ok := strings.CutPrefix(t, "s3:")
	if !ok {
		return false
	}
	if family, ok := strings.CutSuffix(name, ":*"); ok {
		return wildcardFamilies[family]
	}
	return deliveredEvents[name]
}

// eventMatches reports whether the configuration event type t (validated)
// covers the delivered event name.
func eventMatches(t, name string) bool {
	t = strings.TrimPrefix(t, "s3:")
	if family, ok := strings.CutSuffix(t, ":*"); ok {
		return strings.HasPrefix(name, family+":")
	}
	return t == name
}

// eventsOverlap reports whether two configuration event types can match
// one delivered event.
func eventsOverlap(a, b string) bool {
	fa, wa := strings.CutSuffix(strings.TrimPrefix(a, "s3:"), ":*")
	fb, wb := strings.CutSuffix(strings.TrimPrefix(b, "s3:"), ":*")
	switch {
	case wa && wb:
		return fa == fb
	case wa:
		return strings.HasPrefix(fb, fa+":")
	case wb:
		return strings.HasPrefix(fa, fb+":")
	}
	return fa == fb
}

// bucketNameRE accepts S3's bucket names and the relaxed legacy ones some
// stores allow (upper case, underscores), up to 255 characters; never
// "..", which would also be an empty token of the bucket's KV key.
var bucketNameRE = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$`)

// ValidBucketName reports whether name can be a bucket Gust keeps a
// configuration for.
func ValidBucketName(name string) bool {
	return bucketNameRE.MatchString(name) && !strings.Contains(name, "..")
}

// normalize validates cfg as S3 does and returns the copy to store: ids
// filled in, filter rule names capitalised. It does not check
// permissions.
func (s *Service) normalize(cfg NotificationConfiguration) (*NotificationConfiguration, error) {
	for _, other := range []json.RawMessage{cfg.TopicConfigurations, cfg.QueueConfigurations, cfg.EventBridgeConfiguration} {
		if len(other) > 0 && string(other) != "null" && string(other) != "[]" && string(other) != "{}" {
			return nil, KindInvalidArgument.Errorf("Gust delivers bucket notifications to functions only: use LambdaFunctionConfigurations.")
		}
	}
	if len(cfg.LambdaFunctionConfigurations) > maxConfigurations {
		return nil, KindInvalidArgument.Errorf("Too many LambdaFunctionConfigurations: %d, at most %d.", len(cfg.LambdaFunctionConfigurations), maxConfigurations)
	}
	out := &NotificationConfiguration{LambdaFunctionConfigurations: make([]LambdaFunctionConfiguration, 0, len(cfg.LambdaFunctionConfigurations))}
	ids := map[string]bool{}
	for _, c := range cfg.LambdaFunctionConfigurations {
		n, err := s.normalizeOne(c)
		if err != nil {
			return nil, err
		}
		if ids[n.ID] {
			return nil, KindInvalidArgument.Errorf("Same ID used for multiple configurations: %s", n.ID)
		}
		ids[n.ID] = true
		out.LambdaFunctionConfigurations = append(out.LambdaFunctionConfigurations, n)
	}
	if err := checkOverlap(out.LambdaFunctionConfigurations); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) normalizeOne(c LambdaFunctionConfiguration) (LambdaFunctionConfiguration, error) {
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	if len(c.ID) > maxIDLength {
		return c, KindInvalidArgument.Errorf("The Id of a configuration must be at most %d characters.", maxIDLength)
	}
	if _, err := s.functionOf(c.LambdaFunctionArn); err != nil {
		return c, err
	}
	if len(c.Events) == 0 {
		return c, KindInvalidArgument.Errorf("A configuration must name at least one event: %s", c.ID)
	}
	events := make([]string, 0, len(c.Events))
	seen := map[string]bool{}
	for _, e := range c.Events {
		if !validEventType(e) {
			return c, KindInvalidArgument.Errorf("The event is not supported for notifications: %s", e)
		}
		if !seen[e] {
			seen[e] = true
			events = append(events, e)
		}
	}
	c.Events = events
	filter, err := normalizeFilter(c.Filter)
	if err != nil {
		return c, err
	}
	c.Filter = filter
	return c, nil
}

// functionOf parses a configuration's function ARN: a full Lambda ARN of
// this server's region and account, optionally qualified.
func (s *Service) functionOf(arn string) (lambda.FunctionRef, error) {
	ref, err := lambda.ParseFunctionRef(arn)
	if err != nil || !strings.HasPrefix(arn, "arn:") || ref.Region == "" || ref.Account == "" {
		return ref, KindInvalidArgument.Errorf("The ARN is not well formed: %s", arn)
	}
	if !s.opts.Identity.Owns(ref) {
		return ref, KindInvalidArgument.Errorf("The function must be in region %s of account %s: %s", s.opts.Identity.Region, s.opts.Identity.Account, arn)
	}
	return ref, nil
}

// normalizeFilter checks a filter (at most one prefix and one suffix,
// names in any case) and capitalises its rule names; an empty filter is
// no filter.
func normalizeFilter(f *Filter) (*Filter, error) {
	if f == nil || f.Key == nil || len(f.Key.FilterRules) == 0 {
		return nil, nil
	}
	out := &Filter{Key: &KeyFilter{}}
	seen := map[string]bool{}
	for _, r := range f.Key.FilterRules {
		name := strings.ToLower(r.Name)
		if name != "prefix" && name != "suffix" {
			return nil, KindInvalidArgument.Errorf("FilterRule name must be either prefix or suffix")
		}
		if seen[name] {
			return nil, KindInvalidArgument.Errorf("Cannot specify more than one %s rule in a filter.", name)
		}
		seen[name] = true
		if len(r.Value) > maxFilterValue {
			return nil, KindInvalidArgument.Errorf("The %s value must be at most %d characters.", name, maxFilterValue)
		}
		out.Key.FilterRules = append(out.Key.FilterRules, FilterRule{Name: strings.ToUpper(name[:1]) + name[1:], Value: r.Value})
	}
	return out, nil
}

// prefixSuffix returns a configuration's prefix and suffix, decoded: S3
// asks for special characters in filter values to be URL-encoded, so
// "my+dir/" and "my%20dir/" both mean keys starting "my dir/". A value
// that is not valid encoding is taken as it is.
func (c *LambdaFunctionConfiguration) prefixSuffix() (prefix, suffix string) {
	if c.Filter == nil || c.Filter.Key == nil {
		return "", ""
	}
	for _, r := range c.Filter.Key.FilterRules {
		v := decodeKey(r.Value)
		if strings.EqualFold(r.Name, "prefix") {
			prefix = v
		} else {
			suffix = v
		}
	}
	return prefix, suffix
}

// matches reports whether an event named name on key (decoded) is one
// this configuration sends.
func (c *LambdaFunctionConfiguration) matches(name, key string) bool {
	prefix, suffix := c.prefixSuffix()
	if !strings.HasPrefix(key, prefix) || !strings.HasSuffix(key, suffix) {
		return false
	}
	for _, t := range c.Events {
		if eventMatches(t, name) {
			return true
		}
	}
	return false
}

// checkOverlap refuses, as S3 does, two configurations that could both
// match one event: a common event type, and prefixes and suffixes of
// which neither excludes the other.
func checkOverlap(cs []LambdaFunctionConfiguration) error {
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			if sharesEvent(cs[i].Events, cs[j].Events) && filtersOverlap(&cs[i], &cs[j]) {
				return KindInvalidArgument.Errorf("Configurations overlap. Configurations on the same bucket cannot share a common event type.")
			}
		}
	}
	return nil
}

func sharesEvent(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if eventsOverlap(x, y) {
				return true
			}
		}
	}
	return false
}

func filtersOverlap(a, b *LambdaFunctionConfiguration) bool {
	pa, sa := a.prefixSuffix()
	pb, sb := b.prefixSuffix()
	prefixes := strings.HasPrefix(pa, pb) || strings.HasPrefix(pb, pa)
	suffixes := strings.HasSuffix(sa, sb) || strings.HasSuffix(sb, sa)
	return prefixes && suffixes
}
