package esm

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"gust/internal/brokers"
)

// sqsShape renders messages as the records of Lambda's SQS event:
// {"Records":[…]}.
type sqsShape struct {
	arn    string // the source's SQS ARN: eventSourceARN
	region string
	sender string // attributes.SenderId
}

// sqsRecord is one record of an SQS event, its keys in the order Lambda
// writes them.
type sqsRecord struct {
	MessageID         string                  `json:"messageId"`
	ReceiptHandle     string                  `json:"receiptHandle"`
	Body              string                  `json:"body"`
	Attributes        sqsSystemAttributes     `json:"attributes"`
	MessageAttributes map[string]sqsAttribute `json:"messageAttributes"`
	MD5OfBody         string                  `json:"md5OfBody"`
	// MD5OfMessageAttributes is present only when there are attributes,
	// as SQS returns it.
	MD5OfMessageAttributes string `json:"md5OfMessageAttributes,omitempty"`
	EventSource            string `json:"eventSource"`
	EventSourceARN         string `json:"eventSourceARN"`
	AWSRegion              string `json:"awsRegion"`
}

// sqsSystemAttributes are the SQS system attributes Lambda passes on, as
// strings (timestamps in epoch milliseconds).
type sqsSystemAttributes struct {
	ApproximateReceiveCount          string `json:"ApproximateReceiveCount"`
	SentTimestamp                    string `json:"SentTimestamp"`
	SenderID                         string `json:"SenderId"`
	ApproximateFirstReceiveTimestamp string `json:"ApproximateFirstReceiveTimestamp"`
}

// sqsAttribute is one message attribute. Broker headers are strings, so
// every attribute has the String data type; the list fields are always
// present and empty, as Lambda sends them.
type sqsAttribute struct {
	StringValue      string   `json:"stringValue"`
	StringListValues []string `json:"stringListValues"`
	BinaryListValues []string `json:"binaryListValues"`
	DataType         string   `json:"dataType"`
}

// sqsEnvelope surrounds the comma-separated records of an SQS event.
const (
	sqsEventStart = `{"Records":[`
	sqsEventEnd   = `]}`
)

func (sh *sqsShape) payloadKey() string { return "body" }

func (sh *sqsShape) envelopeSize() int { return len(sqsEventStart) + len(sqsEventEnd) }

// partialBatch: SQS mappings accept ReportBatchItemFailures, whose
// itemIdentifier is the messageId.
func (sh *sqsShape) partialBatch() bool { return true }

func (sh *sqsShape) event(records [][]byte) []byte {
	return shapeJoin(sqsEventStart, records, sqsEventEnd)
}

// record renders msg as received now. Its body is the message body as
// text (invalid UTF-8 replaced, since JSON strings cannot carry it) and
// md5OfBody is the MD5 of that text, so that a function can check it.
func (sh *sqsShape) record(msg *brokers.Message, now time.Time) ([]byte, error) {
	body := strings.ToValidUTF8(string(msg.Body), "\uFFFD")
	sent := msg.SentAt
	if sent.IsZero() {
		sent = now
	}
	count := max(msg.ReceiveCount, 1)
	rec := sqsRecord{
		MessageID:     msg.ID,
		ReceiptHandle: sqsReceiptHandle(msg.ID, count),
		Body:          body,
		Attributes: sqsSystemAttributes{
			ApproximateReceiveCount: strconv.Itoa(count),
			SentTimestamp:           strconv.FormatInt(sent.UnixMilli(), 10),
			SenderID:                sh.sender,
			// The brokers do not keep the first receive time; this
			// receive's time is the approximation.
			ApproximateFirstReceiveTimestamp: strconv.FormatInt(now.UnixMilli(), 10),
		},
		MessageAttributes: make(map[string]sqsAttribute, len(msg.Attributes)),
		MD5OfBody:         sqsMD5Hex([]byte(body)),
		EventSource:       "aws:sqs",
		EventSourceARN:    sh.arn,
		AWSRegion:         sh.region,
	}
	attrs := make([]sqsAttributeValue, 0, len(msg.Attributes))
	for name, value := range msg.Attributes {
		value = strings.ToValidUTF8(value, "\uFFFD")
		rec.MessageAttributes[name] = sqsAttribute{StringValue: value, DataType: "String",
			StringListValues: []string{}, BinaryListValues: []string{}}
		attrs = append(attrs, sqsAttributeValue{name: name, dataType: "String", value: value})
	}
	if len(attrs) > 0 {
		rec.MD5OfMessageAttributes = md5OfSQSAttributes(attrs)
	}
	return shapeMarshal(rec)
}

// sqsReceiptHandle is an opaque handle naming one receive of a message.
// Gust settles messages itself, so a function has no use for it beyond
// telling receives apart.
func sqsReceiptHandle(id string, count int) string {
	return base64.StdEncoding.EncodeToString([]byte(id + "#" + strconv.Itoa(count)))
}

// sqsAttributeValue is a string-valued message attribute, as hashed.
type sqsAttributeValue struct {
	name, dataType, value string
}

// md5OfSQSAttributes computes MD5OfMessageAttributes as SQS does: over
// the attributes sorted by name, each encoded as its name, its data type,
// a transport byte (1 for string values) and its value, every string
// preceded by its length as a 4-byte big-endian integer.
func md5OfSQSAttributes(attrs []sqsAttributeValue) string {
	attrs = slices.Clone(attrs)
	slices.SortFunc(attrs, func(a, b sqsAttributeValue) int { return strings.Compare(a.name, b.name) })
	var buf bytes.Buffer
	lengthPrefixed := func(s string) {
		buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s))))
		buf.WriteString(s)
	}
	const stringTransport = 1
	for _, a := range attrs {
		lengthPrefixed(a.name)
		lengthPrefixed(a.dataType)
		buf.WriteByte(stringTransport)
		lengthPrefixed(a.value)
	}
	return sqsMD5Hex(buf.Bytes())
}

func sqsMD5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// shapeMarshal encodes a record without escaping <, > and &, as Lambda
// writes event JSON.
func shapeMarshal(rec any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// shapeJoin writes start, the records separated by commas, and end.
func shapeJoin(start string, records [][]byte, end string) []byte {
	n := len(start) + len(end) + max(len(records)-1, 0)
	for _, r := range records {
		n += len(r)
	}
	out := make([]byte, 0, n)
	out = append(out, start...)
	for i, r := range records {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, r...)
	}
	return append(out, end...)
}
