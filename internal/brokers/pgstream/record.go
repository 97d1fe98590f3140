package pgstream

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pglogrepl"

	"gust/internal/brokers"
)

// Stream view types: what a record carries besides Keys, as DynamoDB
// Streams' StreamViewType.
const (
	KeysOnly        = "KEYS_ONLY"
	NewImage        = "NEW_IMAGE"
	OldImage        = "OLD_IMAGE"
	NewAndOldImages = "NEW_AND_OLD_IMAGES"
)

// Event names of a change, as DynamoDB Streams names them.
const (
	EventInsert = "INSERT"
	EventModify = "MODIFY"
	EventRemove = "REMOVE"
)

// Change is the layout of a Record's Data: the eventName of the DynamoDB
// stream record and its "dynamodb" object, with DynamoDB's field names.
type Change struct {
	EventName string       `json:"eventName"`
	DynamoDB  StreamRecord `json:"dynamodb"`
}

// StreamRecord is the "dynamodb" object of a DynamoDB stream record.
type StreamRecord struct {
	// ApproximateCreationDateTime is the commit time, in epoch seconds.
	ApproximateCreationDateTime int64 `json:"ApproximateCreationDateTime"`
	Keys                        Image `json:"Keys"`
	NewImage                    Image `json:"NewImage,omitempty"`
	OldImage                    Image `json:"OldImage,omitempty"`
	// SequenceNumber is the Record's Seq.
	SequenceNumber string `json:"SequenceNumber"`
	SizeBytes      int64  `json:"SizeBytes"`
	StreamViewType string `json:"StreamViewType"`
}

// Seq layout: the commit LSN of the change's transaction in 20 digits, then
// the change's index within the transaction in 10, so that Seqs compare as
// strings in WAL order.
const (
	lsnDigits   = 20
	indexDigits = 10
	seqDigits   = lsnDigits + indexDigits
)

// makeSeq is the Seq of change index of the transaction committed at lsn.
func makeSeq(lsn pglogrepl.LSN, index int) string {
	return fmt.Sprintf("%0*d%0*d", lsnDigits, uint64(lsn), indexDigits, index)
}

// parseSeq splits a Seq into its commit LSN and index.
func parseSeq(seq string) (pglogrepl.LSN, int, error) {
	if len(seq) != seqDigits {
		return 0, 0, fmt.Errorf("sequence number %q: want %d digits", seq, seqDigits)
	}
	lsn, err := strconv.ParseUint(seq[:lsnDigits], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("sequence number %q: %w", seq, err)
	}
	idx, err := strconv.ParseUint(seq[lsnDigits:], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("sequence number %q: %w", seq, err)
	}
	return pglogrepl.LSN(lsn), int(idx), nil
}

// change is one row change decoded from the replication stream, before it
// is rendered as a Record.
type change struct {
	table     string // "schema.table"
	event     string // EventInsert, EventModify or EventRemove
	keys      Image
	newImage  Image // nil when the change has none
	oldImage  Image
	commitLSN pglogrepl.LSN
	index     int
	committed time.Time
}

// record renders c as a Record for view.
func (c *change) record(view string) (brokers.Record, error) {
	sr := StreamRecord{ApproximateCreationDateTime: c.committed.Unix(), Keys: c.keys,
		SequenceNumber: makeSeq(c.commitLSN, c.index), StreamViewType: view}
	if view == NewImage || view == NewAndOldImages {
		sr.NewImage = c.newImage
	}
	if view == OldImage || view == NewAndOldImages {
		sr.OldImage = c.oldImage
	}
	size, err := imagesSize(sr.Keys, sr.NewImage, sr.OldImage)
	if err != nil {
		return brokers.Record{}, err
	}
	sr.SizeBytes = size
	data, err := json.Marshal(Change{EventName: c.event, DynamoDB: sr})
	if err != nil {
		return brokers.Record{}, fmt.Errorf("encode change %s: %w", sr.SequenceNumber, err)
	}
	keys, err := json.Marshal(c.keys) // map keys sorted: one key, one text
	if err != nil {
		return brokers.Record{}, fmt.Errorf("encode keys %s: %w", sr.SequenceNumber, err)
	}
	return brokers.Record{Seq: sr.SequenceNumber, PartitionKey: c.table + string(keys), Data: data, Arrival: c.committed}, nil
}

// imagesSize is a record's SizeBytes: the size of its keys and images as
// JSON, close to what DynamoDB counts (the item sizes).
func imagesSize(images ...Image) (int64, error) {
	var n int64
	for _, im := range images {
		if im == nil {
			continue
		}
		b, err := json.Marshal(im)
		if err != nil {
			return 0, fmt.Errorf("size of image: %w", err)
		}
		n += int64(len(b))
	}
	return n, nil
}
