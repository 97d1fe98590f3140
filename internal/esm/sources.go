package esm

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"gust/internal/brokers/pgstream"
	"gust/internal/lambda"
	"gust/internal/lazyre"
	"gust/internal/natsd"
)

// Brokers a source can name.
const (
	BrokerRabbitMQ = "rabbitmq"
	BrokerNATS     = "nats"
	BrokerRedis    = "redis"
	// BrokerPostgres is a PostgreSQL database whose table changes a
	// logical replication slot streams (DynamoDB Streams shape).
	BrokerPostgres = "postgres"
)

// Semantics of a source: how a mapping consumes it and the event shape.
const (
	SemanticsQueue  = "queue"  // SQS: competing consumers, per-message ack; ARN arn:aws:sqs:…:<name>
	SemanticsStream = "stream" // Kinesis: ordered shards, checkpoints; ARN arn:aws:kinesis:…:stream/<name>
)

// ddbLabelLayout is the stream label of a DynamoDB stream ARN: the
// stream's creation time.
const ddbLabelLayout = "2006-01-02T15:04:05.000"

// Source binds a broker queue or stream to an AWS-style ARN, so that
// CreateEventSourceMapping can name it. URL carries the broker's
// credentials: it is a secret, never returned by the API nor logged (see
// Source.Redacted).
type Source struct {
	Name      string `json:"name"`
	Broker    string `json:"broker"`    // BrokerRabbitMQ, BrokerNATS, BrokerRedis or BrokerPostgres
	URL       string `json:"url"`       // amqp://, nats://, redis://, postgres:// with credentials
	Semantics string `json:"semantics"` // SemanticsQueue or SemanticsStream
	// Queue is the RabbitMQ queue (default: Name).
	Queue string `json:"queue,omitempty"`
	// Stream is the JetStream stream name or the Redis stream key
	// (default: Name).
	Stream string `json:"stream,omitempty"`
	// Subject filters a JetStream source's subjects (default: all of the
	// stream's).
	Subject string `json:"subject,omitempty"`
	// Shards is the number of shards a stream source's records are
	// spread over by partition key (default 1).
	Shards int `json:"shards,omitempty"`
	// VisibilityTimeoutMillis is how long a failed message of a queue
	// source stays hidden before it is received again (default 30 s, as
	// SQS).
	VisibilityTimeoutMillis int64 `json:"visibilityTimeoutMillis,omitempty"`
	// MaxReceiveCount and DeadLetter are a NATS or Redis queue source's
	// redrive policy: a message received that many times and failed again
	// moves to DeadLetter (a subject or stream key). RabbitMQ queues use
	// their own delivery limit and dead-letter exchange.
	MaxReceiveCount int    `json:"maxReceiveCount,omitempty"`
	DeadLetter      string `json:"deadLetter,omitempty"`
	// BrokerID is a random id in the Amazon MQ broker ARN of a RabbitMQ
	// source.
	BrokerID string `json:"brokerId,omitempty"`
	// Tables are a PostgreSQL source's tables, "schema.table" ("table"
	// alone is in schema public); their row changes are the stream.
	Tables []string `json:"tables,omitempty"`
	// StreamViewType is what a PostgreSQL source's records carry:
	// KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES (the
	// default). Old images are complete only for tables with REPLICA
	// IDENTITY FULL.
	StreamViewType string `json:"streamViewType,omitempty"`
	// Slot and Publication are a PostgreSQL source's logical replication
	// slot and publication, created when missing (default for both:
	// gust_<name>, lowercased, "-" as "_").
	Slot        string    `json:"slot,omitempty"`
	Publication string    `json:"publication,omitempty"`
	Created     time.Time `json:"created"`
}

// VisibilityTimeout is the source's visibility timeout in force.
func (src *Source) VisibilityTimeout() time.Duration {
	if src.VisibilityTimeoutMillis <= 0 {
		return 30 * time.Second
	}
	return time.Duration(src.VisibilityTimeoutMillis) * time.Millisecond
}

// ARN is the source's SQS, Kinesis or (PostgreSQL) DynamoDB stream ARN.
// A DynamoDB stream ARN names the source as its table, and the source's
// creation time as its stream label:
// arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/2006-01-02T15:04:05.000.
func (src *Source) ARN(id lambda.Identity) string {
	if src.Broker == BrokerPostgres {
		return "arn:aws:dynamodb:" + id.Region + ":" + id.Account + ":table/" + src.Name + "/stream/" + src.Created.UTC().Format(ddbLabelLayout)
	}
	if src.Semantics == SemanticsStream {
		return "arn:aws:kinesis:" + id.Region + ":" + id.Account + ":stream/" + src.Name
	}
	return "arn:aws:sqs:" + id.Region + ":" + id.Account + ":" + src.Name
}

// MQARN is a RabbitMQ source's Amazon MQ broker ARN ("" for others): a
// mapping naming it gets the aws:rmq event shape, its Queues naming the
// queue.
func (src *Source) MQARN(id lambda.Identity) string {
	if src.Broker != BrokerRabbitMQ {
		return ""
	}
	return "arn:aws:mq:" + id.Region + ":" + id.Account + ":broker:" + src.Name + ":b-" + src.BrokerID
}

// validSourceName is an SQS queue name's alphabet and length, which also
// suits Kinesis stream names and KV keys.
var validSourceName = lazyre.New(`^[A-Za-z0-9_-]{1,80}$`)

func sourceKey(name string) string { return sourcePrefix + name }

// Redacted is src with the password of its URL replaced by "****", for
// everything that leaves the server. A user name given without a password
// is masked too: alone, it may be the credential itself (a NATS token,
// nats://TOKEN@host).
func (src Source) Redacted() Source {
	u, err := url.Parse(src.URL)
	if err != nil {
		src.URL = "(unparsable URL)"
		return src
	}
	const mask = "MASKED"
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), mask)
		} else if u.User.Username() != "" {
			u.User = url.User(mask)
		}
	}
	if q := u.Query(); q.Has("password") { // libpq's URLs may carry it here
		q.Set("password", mask)
		u.RawQuery = q.Encode()
	}
	// net/url would escape "*" in userinfo; the mask is put in after.
	src.URL = strings.Replace(u.String(), mask+"@", "****@", 1)
	src.URL = strings.Replace(src.URL, "password="+mask, "password=****", 1)
	return src
}

// validate checks a source before it is stored and fills defaults.
func (src *Source) validate() error {
	bad := lambda.KindInvalidParameterValue.Errorf
	if !validSourceName.MatchString(src.Name) {
		return bad("Invalid source name %q: use 1 to 80 characters from [A-Za-z0-9_-].", src.Name)
	}
	u, err := url.Parse(src.URL)
	if err != nil {
		return bad("Invalid broker URL for source %s.", src.Name) // the URL itself may hold a password
	}
	schemes := map[string][]string{
		BrokerRabbitMQ: {"amqp", "amqps"},
		BrokerNATS:     {"nats", "tls"},
		BrokerRedis:    {"redis", "rediss"},
		BrokerPostgres: {"postgres", "postgresql"},
	}
	ok, known := schemes[src.Broker]
	if !known {
		return bad("Unsupported broker %q: use rabbitmq, nats, redis or postgres.", src.Broker)
	}
	if !slices.Contains(ok, u.Scheme) {
		return bad("A %s source needs a URL with scheme %s.", src.Broker, strings.Join(ok, " or "))
	}
	if src.Broker == BrokerPostgres {
		return src.validatePostgres()
	}
	if len(src.Tables) > 0 || src.StreamViewType != "" || src.Slot != "" || src.Publication != "" {
		return bad("Only a PostgreSQL source has tables, a stream view type, a slot and a publication.")
	}
	switch {
	case src.Semantics == "":
		src.Semantics = SemanticsQueue
	case src.Semantics != SemanticsQueue && src.Semantics != SemanticsStream:
		return bad("Unsupported semantics %q: use queue or stream.", src.Semantics)
	}
	if src.Broker == BrokerRabbitMQ && src.Semantics != SemanticsQueue {
		return bad("A RabbitMQ source has queue semantics.")
	}
	if src.Shards < 0 || src.Shards > 1000 || (src.Shards > 1 && src.Semantics != SemanticsStream) {
		return bad("Shards must be 1 to 1000, and only a stream source has shards.")
	}
	if src.Shards == 0 && src.Semantics == SemanticsStream {
		src.Shards = 1
	}
	if src.MaxReceiveCount < 0 || (src.DeadLetter != "" && src.MaxReceiveCount == 0) {
		return bad("A dead-letter target needs a MaxReceiveCount of 1 or more.")
	}
	if src.Broker == BrokerRabbitMQ && src.Queue == "" {
		src.Queue = src.Name
	}
	if src.Broker != BrokerRabbitMQ && src.Stream == "" {
		src.Stream = src.Name
	}
	return nil
}

// PutSource stores a new source. A source of that name already existing
// is a ResourceConflictException.
func (s *Service) PutSource(ctx context.Context, src Source) (*Source, error) {
	if err := src.validate(); err != nil {
		return nil, err
	}
	src.Created = time.Now().UTC()
	src.BrokerID = uuid.NewString()
	stored, err := natsd.UpdateJSON(ctx, s.kv, sourceKey(src.Name), func(cur *Source) (*Source, error) {
		if cur != nil {
			return nil, lambda.KindResourceConflict.Errorf("Source already exists: %s", src.Name)
		}
		return &src, nil
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// GetSource returns one source, or a ResourceNotFoundException.
func (s *Service) GetSource(ctx context.Context, name string) (*Source, error) {
	src, _, err := natsd.GetJSON[Source](ctx, s.kv, sourceKey(name))
	if err != nil {
		return nil, err
	}
	if src == nil {
		return nil, lambda.KindResourceNotFound.Errorf("Source not found: %s", name)
	}
	return src, nil
}

// ListSources returns every source, by name.
func (s *Service) ListSources(ctx context.Context) ([]*Source, error) {
	keys, err := s.kv.ListKeysFiltered(ctx, sourcePrefix+">")
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	var out []*Source
	for k := range keys.Keys() {
		src, _, err := natsd.GetJSON[Source](ctx, s.kv, k)
		if err != nil {
			return nil, err
		}
		if src != nil {
			out = append(out, src)
		}
	}
	slices.SortFunc(out, func(a, b *Source) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteSource removes a source that no mapping uses; one in use is a
// ResourceInUseException naming the mappings.
func (s *Service) DeleteSource(ctx context.Context, name string) error {
	src, err := s.GetSource(ctx, name)
	if err != nil {
		return err
	}
	mappings, err := s.listMappings(ctx)
	if err != nil {
		return err
	}
	var users []string
	for _, rec := range mappings {
		if arn := rec.Mapping.EventSourceArn; arn == src.ARN(s.id) || (arn != "" && arn == src.MQARN(s.id)) {
			users = append(users, rec.Mapping.UUID)
		}
	}
	if len(users) > 0 {
		return lambda.KindResourceInUse.Errorf("Source %s is used by event source mappings %s.", name, strings.Join(users, ", "))
	}
	if err := s.kv.Delete(ctx, sourceKey(name)); err != nil {
		return fmt.Errorf("delete source %s: %w", name, err)
	}
	if src.Broker == BrokerPostgres {
		s.dropSlot(ctx, src)
	}
	return nil
}

// sourceByARN returns the source an event source ARN names (SQS, Kinesis,
// DynamoDB stream or Amazon MQ form), or a ResourceNotFound / InvalidParameterValue
// *lambda.Error.
func (s *Service) sourceByARN(ctx context.Context, arn string) (*Source, error) {
	name, ok := sourceNameFromARN(s.id, arn)
	if !ok {
		return nil, lambda.KindInvalidParameterValue.Errorf("Unrecognized event source %s: Gust takes the SQS, Kinesis, DynamoDB stream or Amazon MQ ARN of a source made with `gust source create` in region %s, account %s.", arn, s.id.Region, s.id.Account)
	}
	src, _, err := natsd.GetJSON[Source](ctx, s.kv, sourceKey(name))
	if err != nil {
		return nil, err
	}
	if src == nil || (src.ARN(s.id) != arn && src.MQARN(s.id) != arn) {
		return nil, lambda.KindResourceNotFound.Errorf("Event source not found: %s", arn)
	}
	return src, nil
}

// sourceNameFromARN takes the source name out of an SQS, Kinesis,
// DynamoDB stream (table/NAME/stream/LABEL) or Amazon MQ ARN of this
// region and account.
func sourceNameFromARN(id lambda.Identity, arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" || parts[3] != id.Region || parts[4] != id.Account {
		return "", false
	}
	var name string
	switch parts[2] {
	case "sqs":
		name = parts[5]
	case "kinesis":
		name, _ = strings.CutPrefix(parts[5], "stream/")
	case "dynamodb":
		rest, ok := strings.CutPrefix(parts[5], "table/")
		if !ok {
			return "", false
		}
		var label string
		name, label, _ = strings.Cut(rest, "/stream/")
		if _, err := time.Parse(ddbLabelLayout, label); err != nil {
			return "", false
		}
	case "mq":
		rest, ok := strings.CutPrefix(parts[5], "broker:")
		if !ok {
			return "", false
		}
		name, _, _ = strings.Cut(rest, ":")
	default:
		return "", false
	}
	return name, validSourceName.MatchString(name)
}

// validatePostgres checks a PostgreSQL source and fills its defaults: a
// stream of one shard (a replication slot has one reader), tables as
// "schema.table", NEW_AND_OLD_IMAGES, and slot and publication names.
func (src *Source) validatePostgres() error {
	bad := lambda.KindInvalidParameterValue.Errorf
	switch src.Semantics {
	case "", SemanticsStream:
		src.Semantics = SemanticsStream
	default:
		return bad("A PostgreSQL source has stream semantics: its changes are a DynamoDB stream.")
	}
	if src.Shards > 1 {
		return bad("A PostgreSQL source has exactly one shard: a replication slot has one reader.")
	}
	src.Shards = 1
	if src.Queue != "" || src.Stream != "" || src.Subject != "" || src.MaxReceiveCount != 0 || src.DeadLetter != "" || src.VisibilityTimeoutMillis != 0 {
		return bad("A PostgreSQL source takes tables, a stream view type, a slot and a publication; not a queue, stream, subject, visibility timeout or redrive policy.")
	}
	if len(src.Tables) == 0 {
		return bad("A PostgreSQL source needs at least one table (schema.table).")
	}
	var tables []string
	for _, t := range src.Tables {
		if !strings.Contains(t, ".") {
			t = "public." + t
		}
		if !pgstream.ValidTable.MatchString(t) {
			return bad("Invalid table %q: use schema.table, each an unquoted SQL identifier of at most 63 characters.", t)
		}
		if !slices.Contains(tables, t) {
			tables = append(tables, t)
		}
	}
	src.Tables = tables
	if src.StreamViewType == "" {
		src.StreamViewType = pgstream.NewAndOldImages
	}
	if !slices.Contains(pgstream.ViewTypes, src.StreamViewType) {
		return bad("Invalid StreamViewType %q: use %s.", src.StreamViewType, strings.Join(pgstream.ViewTypes, ", "))
	}
	def := "gust_" + strings.ReplaceAll(strings.ToLower(src.Name), "-", "_")
	if src.Slot == "" {
		src.Slot = def[:min(len(def), 63)]
	}
	if src.Publication == "" {
		src.Publication = def[:min(len(def), 63)]
	}
	if !pgstream.ValidSlot.MatchString(src.Slot) || !pgstream.ValidSlot.MatchString(src.Publication) {
		return bad("Invalid slot %q or publication %q: use 1 to 63 of [a-z0-9_].", src.Slot, src.Publication)
	}
	return nil
}

// dropSlot drops a deleted PostgreSQL source's replication slot, so that
// the database stops keeping WAL for it. Failing is logged, not returned:
// the source is gone either way, and the slot can be dropped by hand.
func (s *Service) dropSlot(ctx context.Context, src *Source) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pgstream.DropSlot(ctx, src.URL, src.Slot); err != nil {
		s.log.Warn("drop the replication slot of a deleted source; drop it with pg_drop_replication_slot",
			"source", src.Name, "slot", src.Slot, "err", err)
	}
}
