package logs

import (
	"cmp"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
)

type describeLogStreamsInput struct {
	LogGroupName        *string `json:"logGroupName"`
	LogGroupIdentifier  *string `json:"logGroupIdentifier"`
	LogStreamNamePrefix *string `json:"logStreamNamePrefix"`
	OrderBy             *string `json:"orderBy"`
	Descending          *bool   `json:"descending"`
	Limit               *int    `json:"limit"`
	NextToken           *string `json:"nextToken"`
}

type logStreamJSON struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   int64  `json:"lastIngestionTime,omitempty"`
	UploadSequenceToken string `json:"uploadSequenceToken"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

type describeLogStreamsOutput struct {
	LogStreams []logStreamJSON `json:"logStreams"`
	NextToken  string          `json:"nextToken,omitempty"`
}

// describeLogStreams lists a group's streams by name or by last event time,
// 50 a page at most. The token names the last stream returned; ordering by
// time, streams whose last event moves past the token while paging may be
// skipped or repeated, as in CloudWatch.
func (s *Store) describeLogStreams(body []byte) (any, error) {
	var in describeLogStreamsInput
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	name, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	limit, err := limitParam(in.Limit, 50, 50)
	if err != nil {
		return nil, err
	}
	byTime := false
	switch deref(in.OrderBy) {
	case "", "LogStreamName":
	case "LastEventTime":
		byTime = true
		if in.LogStreamNamePrefix != nil {
			return nil, kindInvalidParameter.errorf("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
	default:
		return nil, kindInvalidParameter.errorf("1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]", *in.OrderBy)
	}
	streams, err := s.streamStates(name)
	if err != nil {
		return nil, err
	}
	prefix := deref(in.LogStreamNamePrefix)
	streams = slices.DeleteFunc(streams, func(si streamState) bool { return !strings.HasPrefix(si.Name, prefix) })
	order := func(a, b streamState) int {
		c := 0
		if byTime {
			c = cmp.Compare(a.LastEventTimestamp, b.LastEventTimestamp)
		}
		if c == 0 {
			c = strings.Compare(a.Name, b.Name)
		}
		if deref(in.Descending) {
			c = -c
		}
		return c
	}
	slices.SortFunc(streams, order)
	if in.NextToken != nil {
		after, err := decodeStreamToken(*in.NextToken)
		if err != nil {
			return nil, err
		}
		// Resume after the token's place in the order, even if that stream
		// has moved or gone since.
		i, found := slices.BinarySearchFunc(streams, streamState{StreamInfo: after}, order)
		if found {
			i++
		}
		streams = streams[i:]
	}
	out := describeLogStreamsOutput{LogStreams: []logStreamJSON{}}
	arn := s.groupARN(name) + ":log-stream:"
	for i, si := range streams {
		if i == limit {
			out.NextToken = encodeStreamToken(streams[i-1].StreamInfo)
			break
		}
		out.LogStreams = append(out.LogStreams, logStreamJSON{
			LogStreamName:       si.Name,
			CreationTime:        si.CreationTime,
			FirstEventTimestamp: si.FirstEventTimestamp,
			LastEventTimestamp:  si.LastEventTimestamp,
			LastIngestionTime:   si.LastIngestionTime,
			UploadSequenceToken: strconv.FormatUint(si.lastSeq+1, 10),
			Arn:                 arn + si.Name,
			StoredBytes:         si.StoredBytes,
		})
	}
	return out, nil
}

// encodeStreamToken makes an opaque token continuing after si in either order.
func encodeStreamToken(si StreamInfo) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s:" + strconv.FormatInt(si.LastEventTimestamp, 10) + ":" + si.Name))
}

func decodeStreamToken(tok string) (StreamInfo, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	rest, ok := strings.CutPrefix(string(b), "s:")
	ts, name, ok2 := strings.Cut(rest, ":")
	n, err2 := strconv.ParseInt(ts, 10, 64)
	if err != nil || !ok || !ok2 || err2 != nil {
		return StreamInfo{}, errBadToken
	}
	return StreamInfo{Name: name, LastEventTimestamp: n}, nil
}
