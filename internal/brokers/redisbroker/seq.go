package redisbroker

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// seqWidth is the number of digits of each half of a Seq: enough for any
// uint64, so that every Seq of every stream has the same length and string
// order equals (milliseconds, sequence) order.
const seqWidth = 20

// SeqFromID renders a stream entry ID ("<ms>-<seq>") as a brokers Seq: 40
// decimal digits, the milliseconds and the sequence number each padded to
// 20, so that comparing two Seqs as strings orders them as the stream does.
func SeqFromID(id string) (string, error) {
	ms, seq, err := parseID(id)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*d%0*d", seqWidth, ms, seqWidth, seq), nil
}

// IDFromSeq is the inverse of SeqFromID. It also takes a Seq whose
// sequence half is past the largest sequence number Redis gives, as a
// decrement of a millisecond's first Seq makes (a checkpoint pinned just
// before a record, esm's seqBefore): that stands for the millisecond's
// last possible ID, the greatest ID that orders before it, so reading past
// it starts with the next millisecond's first entry.
func IDFromSeq(seq string) (string, error) {
	if len(seq) != 2*seqWidth {
		return "", fmt.Errorf("redis seq %q: want %d digits", seq, 2*seqWidth)
	}
	ms, err := strconv.ParseUint(seq[:seqWidth], 10, 64)
	if err != nil {
		return "", fmt.Errorf("redis seq %q: milliseconds: %w", seq, err)
	}
	n, err := strconv.ParseUint(seq[seqWidth:], 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		n, err = math.MaxUint64, nil
	}
	if err != nil {
		return "", fmt.Errorf("redis seq %q: sequence: %w", seq, err)
	}
	return formatID(ms, n), nil
}

// parseID splits a complete stream entry ID into its two numbers.
func parseID(id string) (ms, seq uint64, err error) {
	msPart, seqPart, ok := strings.Cut(id, "-")
	if !ok {
		return 0, 0, fmt.Errorf("redis stream id %q: want <ms>-<seq>", id)
	}
	if ms, err = strconv.ParseUint(msPart, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("redis stream id %q: milliseconds: %w", id, err)
	}
	if seq, err = strconv.ParseUint(seqPart, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("redis stream id %q: sequence: %w", id, err)
	}
	return ms, seq, nil
}

func formatID(ms, seq uint64) string {
	return strconv.FormatUint(ms, 10) + "-" + strconv.FormatUint(seq, 10)
}

// idTime is when Redis added the entry, as its ID says; zero for an ID
// that is not of the <ms>-<seq> form or too large for a time.Time.
func idTime(id string) time.Time {
	ms, _, err := parseID(id)
	if err != nil || ms > 1<<62 {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms))
}
