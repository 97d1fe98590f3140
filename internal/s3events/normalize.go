package s3events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gust/internal/lazyre"
)

// The webhook accepts the bodies of four senders, all "almost S3":
//
//   - AWS S3's own event JSON ({"Records":[…]}): keys form-encoded;
//   - MinIO ({"EventName","Key","Records":[…]}, eventSource "minio:s3"):
//     eventName prefixed "s3:", keys escaped with Go's url.QueryEscape
//     (so '/' is %2F), extra object fields;
//   - versitygw ({"Records":[…]}, eventSource "aws:s3"): eventName
//     prefixed "s3:", raw keys, userIdentity.PrincipalId capitalised, a
//     bucket ARN holding the request path, eventVersion 2.2, a
//     glacierEventData on every record, a quoted eTag, DeleteObjects
//     reported as its own ObjectRemoved:DeleteObjects;
//   - Ceph RGW ({"Records":[…]}, eventSource "ceph:s3"): eventName with
//     or without "s3:", raw keys, size as a string, a regional bucket
//     ARN, lifecycle events under its own names.
//
// Each record becomes an incoming: the facts, with the key decoded, from
// which a record in AWS's exact shape is built per matching
// configuration.

// vendor is the kind of store a record came from.
type vendor string

const (
	vendorAWS       vendor = "aws"
	vendorMinIO     vendor = "minio"
	vendorVersityGW vendor = "versitygw"
	vendorCeph      vendor = "ceph"
)

// incoming is one normalized record: AWS's event name, the raw key, and
// every field of the final record but configurationId.
type incoming struct {
	vendor vendor
	name   string // AWS's eventName, e.g. ObjectCreated:Put
	bucket string
	key    string // decoded
	rec    record
}

// body is a webhook body of any of the four senders. Test events
// ({"Event":"s3:TestEvent",…}, sent by S3 and versitygw) have no records.
type body struct {
	Records []json.RawMessage `json:"Records"`
}

// wireRecord reads any sender's record leniently; vendor quirks are
// resolved afterwards.
type wireRecord struct {
	EventSource       string                     `json:"eventSource"`
	AWSRegion         string                     `json:"awsRegion"`
	EventTime         string                     `json:"eventTime"`
	EventName         string                     `json:"eventName"`
	UserIdentity      json.RawMessage            `json:"userIdentity"`
	RequestParameters requestParameters          `json:"requestParameters"`
	ResponseElements  map[string]json.RawMessage `json:"responseElements"`
	S3                struct {
		Bucket struct {
			Name          string   `json:"name"`
			OwnerIdentity identity `json:"ownerIdentity"`
		} `json:"bucket"`
		Object struct {
			Key       string    `json:"key"`
			Size      flexInt64 `json:"size"`
			ETag      string    `json:"eTag"`
			VersionID string    `json:"versionId"`
			Sequencer string    `json:"sequencer"`
		} `json:"object"`
	} `json:"s3"`
}

// flexInt64 is a size sent as a JSON number or, by Ceph, as a string.
type flexInt64 struct {
	n   int64
	set bool
}

func (f *flexInt64) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" || s == `""` {
		return nil
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("size %s is not a byte count", b)
	}
	f.n, f.set = n, true
	return nil
}

// vendorNames maps the event names stores send that S3 spells otherwise
// (after any "s3:" prefix is dropped). Names neither here nor among S3's
// own are not S3 events (MinIO's ObjectAccessed:*, Ceph's ObjectSynced:*)
// and match no configuration.
var vendorNames = map[string]string{
	// versitygw sends one record per key of a DeleteObjects; S3 calls
	// each an ObjectRemoved:Delete.
	"ObjectRemoved:DeleteObjects": "ObjectRemoved:Delete",
	// MinIO files tagging under ObjectCreated.
	"ObjectCreated:PutTagging":    "ObjectTagging:Put",
	"ObjectCreated:DeleteTagging": "ObjectTagging:Delete",
	// Ceph's lifecycle events.
	"ObjectLifecycle:Expiration:Current":      "LifecycleExpiration:Delete",
	"ObjectLifecycle:Expiration:NonCurrent":   "LifecycleExpiration:Delete",
	"ObjectLifecycle:Expiration:DeleteMarker": "LifecycleExpiration:DeleteMarkerCreated",
	"ObjectLifecycle:Transition:Current":      "LifecycleTransition",
	"ObjectLifecycle:Transition:NonCurrent":   "LifecycleTransition",
}

// awsEventName is S3's name for a store's event name; ok is false for an
// event S3 has no name for.
func awsEventName(name string) (string, bool) {
	name = strings.TrimPrefix(name, "s3:")
	if n, ok := vendorNames[name]; ok {
		name = n
	}
	return name, deliveredEvents[name]
}

// parseBody reads a webhook body into normalized records. Records of
// events S3 has no name for are left out and counted in skipped. A body
// that is not JSON, or a record without a bucket, key or event name, is
// ErrMalformedEvent.
func (s *Service) parseBody(raw []byte) (in []incoming, skipped int, err error) {
	var b body
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrMalformedEvent, err)
	}
	for i, r := range b.Records {
		var w wireRecord
		if err := json.Unmarshal(r, &w); err != nil {
			return nil, 0, fmt.Errorf("%w: record %d: %w", ErrMalformedEvent, i, err)
		}
		if w.EventName == "" {
			return nil, 0, fmt.Errorf("%w: record %d has no eventName", ErrMalformedEvent, i)
		}
		// Unnamed events go first: some have no object at all (MinIO's
		// s3:BucketCreated), and refusing them would make a store that
		// retries send them forever.
		name, ok := awsEventName(w.EventName)
		if !ok {
			s.log.Debug("object-store event has no S3 name; not delivered", "event_name", w.EventName, "bucket", w.S3.Bucket.Name)
			skipped++
			continue
		}
		if w.S3.Bucket.Name == "" || w.S3.Object.Key == "" {
			return nil, 0, fmt.Errorf("%w: record %d has no bucket or key", ErrMalformedEvent, i)
		}
		in = append(in, s.normalizeRecord(&w, name))
	}
	return in, skipped, nil
}

// senderOf tells the vendor of a record: MinIO and Ceph name themselves
// in eventSource; versitygw says "aws:s3" but spells userIdentity's
// principal id "PrincipalId".
func senderOf(w *wireRecord) vendor {
	switch w.EventSource {
	case "minio:s3":
		return vendorMinIO
	case "ceph:s3":
		return vendorCeph
	}
	var ui map[string]json.RawMessage
	if json.Unmarshal(w.UserIdentity, &ui) == nil {
		if _, ok := ui["PrincipalId"]; ok {
			return vendorVersityGW
		}
	}
	return vendorAWS
}

// rawKey decodes a record's key as its sender encoded it: S3's and
// MinIO's are form-encoded, versitygw's and Ceph's are the key itself.
func rawKey(v vendor, key string) string {
	switch v {
	case vendorAWS, vendorMinIO:
		return decodeKey(key)
	}
	return key
}

// normalizeRecord builds AWS's record from a sender's, leaving
// configurationId to the matching configuration.
func (s *Service) normalizeRecord(w *wireRecord, name string) incoming {
	v := senderOf(w)
	key := rawKey(v, w.S3.Object.Key)
	bucket := w.S3.Bucket.Name
	var principal identity
	if len(w.UserIdentity) > 0 {
		var ui map[string]string
		if json.Unmarshal(w.UserIdentity, &ui) == nil {
			principal.PrincipalID = ui["principalId"]
			if principal.PrincipalID == "" {
				principal.PrincipalID = ui["PrincipalId"]
			}
		}
	}
	region := w.AWSRegion
	if region == "" {
		region = s.opts.Identity.Region
	}
	obj := objectEntity{Key: encodeKey(key), Sequencer: s.sequencerFor(w.S3.Object.Sequencer)}
	if v := w.S3.Object.VersionID; v != "" && v != "null" {
		obj.VersionID = v
	}
	if !isRemoval(name) {
		if w.S3.Object.Size.set {
			size := w.S3.Object.Size.n
			obj.Size = &size
		}
		obj.ETag = strings.Trim(w.S3.Object.ETag, `"`)
	}
	return incoming{vendor: v, name: name, bucket: bucket, key: key, rec: record{
		EventVersion:      eventVersion,
		EventSource:       eventSource,
		AWSRegion:         region,
		EventTime:         eventTime(w.EventTime),
		EventName:         name,
		UserIdentity:      principal,
		RequestParameters: w.RequestParameters,
		ResponseElements:  s.responseElements(w.ResponseElements),
		S3: entity{
			SchemaVersion: schemaVersion,
			Bucket:        bucketEntity{Name: bucket, OwnerIdentity: w.S3.Bucket.OwnerIdentity, Arn: bucketARN(bucket)},
			Object:        obj,
		},
	}}
}

// eventTime renders a sender's time (any RFC 3339 form: seconds only,
// microseconds, an offset) as S3 does, in UTC to the millisecond; a
// missing or unreadable time is the time of arrival.
func eventTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t = time.Now()
	}
	return t.UTC().Format(eventTimeLayout)
}

// responseElements keeps S3's two response elements, generating those a
// sender left out, and drops vendor extras (MinIO's x-minio-*).
func (s *Service) responseElements(m map[string]json.RawMessage) responseElements {
	str := func(k string) string {
		var v string
		_ = json.Unmarshal(m[k], &v)
		return v
	}
	out := responseElements{RequestID: str("x-amz-request-id"), HostID: str("x-amz-id-2")}
	if out.RequestID == "" {
		out.RequestID = randomHex(8)
	}
	if out.HostID == "" {
		out.HostID = randomBase64(48)
	}
	return out
}

// sequencerRE is what Gust keeps of a sender's sequencer: hexadecimal of
// at least 16 digits, as S3's, MinIO's and Ceph's are. versitygw's is a
// counter that restarts with the process, which cannot order anything.
var sequencerRE = lazyre.New(`^[0-9A-Fa-f]{16,64}$`)

// sequencerFor is a record's sequencer: the sender's when it is S3-like,
// else one from this node's clock, increasing with every call.
func (s *Service) sequencerFor(sent string) string {
	if sequencerRE.MatchString(sent) {
		return strings.ToUpper(sent)
	}
	now := time.Now().UnixNano()
	for {
		last := s.lastSeq.Load()
		next := max(now, last+1)
		if s.lastSeq.CompareAndSwap(last, next) {
			return fmt.Sprintf("%016X", next)
		}
	}
}
