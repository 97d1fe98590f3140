package logs

import "strings"

type getLogEventsInput struct {
	LogGroupName       *string `json:"logGroupName"`
	LogGroupIdentifier *string `json:"logGroupIdentifier"`
	LogStreamName      *string `json:"logStreamName"`
	StartTime          *int64  `json:"startTime"`
	EndTime            *int64  `json:"endTime"`
	StartFromHead      *bool   `json:"startFromHead"`
	Limit              *int    `json:"limit"`
	NextToken          *string `json:"nextToken"`
}

type outputLogEventJSON struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type getLogEventsOutput struct {
	Events            []outputLogEventJSON `json:"events"`
	NextForwardToken  string               `json:"nextForwardToken"`
	NextBackwardToken string               `json:"nextBackwardToken"`
}

// getLogEvents pages through one stream. Tokens are "f/<key>" (events after
// key) and "b/<key>" (events before key). At the end of the stream the
// forward token returned is the one passed in, which is how followers and
// the SDK paginator (StopOnDuplicateToken) know to stop or wait.
func (s *Store) getLogEvents(body []byte) (any, error) {
	var in getLogEventsInput
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	name, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.LogStreamName == nil {
		return nil, kindInvalidParameter.errorf("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null")
	}
	limit, err := limitParam(in.Limit, DefaultFilterLimit, MaxFilterLimit)
	if err != nil {
		return nil, err
	}
	forward := deref(in.StartFromHead)
	var (
		pos    key
		hasTok bool
	)
	if in.NextToken != nil {
		dir, k, ok := strings.Cut(*in.NextToken, "/")
		if pos, err = decodeKey(k); err != nil || !ok || (dir != "f" && dir != "b") {
			return nil, errBadToken
		}
		forward, hasTok = dir == "f", true
	}
	g, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	stream := *in.LogStreamName
	g.mu.Lock()
	_, ok := g.streams[stream]
	g.mu.Unlock()
	if !ok {
		return nil, ErrStreamNotFound
	}
	end := deref(in.EndTime) // exclusive here, inclusive in scan
	if end != 0 {
		end--
	}
	recs, err := s.scan(g, func(n string) bool { return n == stream }, deref(in.StartTime), end, func(r *record) bool {
		switch {
		case !hasTok:
			return true
		case forward:
			return pos.less(keyOf(r))
		default:
			return keyOf(r).less(pos)
		}
	})
	if err != nil {
		return nil, err
	}
	var page []record
	if forward {
		page = recs[:pageSize(recs, limit)]
	} else {
		// The newest events before pos, still returned oldest first.
		n := min(len(recs), limit)
		for n > 1 && totalSize(recs[len(recs)-n:]) > maxPageBytes {
			n--
		}
		page = recs[len(recs)-n:]
	}
	out := getLogEventsOutput{Events: make([]outputLogEventJSON, len(page))}
	for i := range page {
		out.Events[i] = outputLogEventJSON{Timestamp: page[i].Timestamp, Message: page[i].Message, IngestionTime: page[i].Ingestion}
	}
	switch {
	case len(page) > 0:
		out.NextForwardToken = "f/" + keyOf(&page[len(page)-1]).encode()
		out.NextBackwardToken = "b/" + keyOf(&page[0]).encode()
	case hasTok:
		out.NextForwardToken = "f/" + pos.encode()
		out.NextBackwardToken = "b/" + pos.encode()
	default:
		out.NextForwardToken = "f/" + minKey.encode()
		out.NextBackwardToken = "b/" + maxKey.encode()
	}
	return out, nil
}

func totalSize(recs []record) int64 {
	var n int64
	for i := range recs {
		n += recs[i].size()
	}
	return n
}
