package s3events

import (
	"strings"
)

// event is an S3 event notification as a function receives it:
// aws-lambda-go's events.S3Event, one record per notification as S3 sends
// them.
type event struct {
	Records []record `json:"Records"`
}

// record is one S3 event record in AWS's exact shape and field order.
type record struct {
	EventVersion      string            `json:"eventVersion"`
	EventSource       string            `json:"eventSource"`
	AWSRegion         string            `json:"awsRegion"`
	EventTime         string            `json:"eventTime"`
	EventName         string            `json:"eventName"`
	UserIdentity      identity          `json:"userIdentity"`
	RequestParameters requestParameters `json:"requestParameters"`
	ResponseElements  responseElements  `json:"responseElements"`
	S3                entity            `json:"s3"`
}

type identity struct {
	PrincipalID string `json:"principalId"`
}

type requestParameters struct {
	SourceIPAddress string `json:"sourceIPAddress"`
}

type responseElements struct {
	RequestID string `json:"x-amz-request-id"`
	HostID    string `json:"x-amz-id-2"`
}

type entity struct {
	SchemaVersion   string       `json:"s3SchemaVersion"`
	ConfigurationID string       `json:"configurationId"`
	Bucket          bucketEntity `json:"bucket"`
	Object          objectEntity `json:"object"`
}

type bucketEntity struct {
	Name          string   `json:"name"`
	OwnerIdentity identity `json:"ownerIdentity"`
	Arn           string   `json:"arn"`
}

// objectEntity is the object of a record. S3 leaves size and eTag out of
// removal events and versionId out of events of unversioned buckets.
type objectEntity struct {
	Key       string `json:"key"`
	Size      *int64 `json:"size,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	Sequencer string `json:"sequencer"`
}

// Constant fields of every record Gust produces.
const (
	eventVersion    = "2.1"
	eventSource     = "aws:s3"
	schemaVersion   = "1.0"
	eventTimeLayout = "2006-01-02T15:04:05.000Z"
)

// bucketARN is a bucket's ARN as S3 writes it in events: no region, no
// account.
func bucketARN(bucket string) string { return "arn:aws:s3:::" + bucket }

// isRemoval reports whether events named name describe an object that is
// gone, whose records carry no size or eTag.
func isRemoval(name string) bool {
	return strings.HasPrefix(name, "ObjectRemoved:") || strings.HasPrefix(name, "LifecycleExpiration:")
}

// encodeKey renders an object key as S3 does in event records: form
// encoding (application/x-www-form-urlencoded: a space becomes '+', every
// byte of the UTF-8 form other than A-Z a-z 0-9 * - . _ becomes %XX) with
// '/' kept as it is. So "a b+c.txt" is "a+b%2Bc.txt" and "dir/ü.json" is
// "dir/%C3%BC.json".
func encodeKey(key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(key) + len(key)/2)
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '*', c == '-', c == '.', c == '_', c == '/':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// decodeKey undoes form encoding ('+' is a space); a string that is not
// valid encoding is returned as it is.
func decodeKey(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b.WriteByte(' ')
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return s
			}
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
