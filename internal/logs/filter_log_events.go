package logs

type filterLogEventsInput struct {
	LogGroupName        *string  `json:"logGroupName"`
	LogGroupIdentifier  *string  `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix *string  `json:"logStreamNamePrefix"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	FilterPattern       *string  `json:"filterPattern"`
	Limit               *int     `json:"limit"`
	NextToken           *string  `json:"nextToken"`
}

type filteredLogEventJSON struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

type searchedLogStreamJSON struct {
	LogStreamName      string `json:"logStreamName"`
	SearchedCompletely bool   `json:"searchedCompletely"`
}

type filterLogEventsOutput struct {
	Events             []filteredLogEventJSON  `json:"events"`
	SearchedLogStreams []searchedLogStreamJSON `json:"searchedLogStreams"`
	NextToken          string                  `json:"nextToken,omitempty"`
}

// filterLogEvents searches a group across streams. nextToken is left out
// on the last page: the CLI and SDK paginators stop only then.
// startFromHead=false (newest first) is not supported yet and is ignored.
func (s *Store) filterLogEvents(body []byte) (any, error) {
	var in filterLogEventsInput
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	name, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	limit, err := limitParam(in.Limit, DefaultFilterLimit, MaxFilterLimit)
	if err != nil {
		return nil, err
	}
	if n := len(in.LogStreamNames); n > 100 {
		return nil, kindInvalidParameter.errorf("1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: Member must have length less than or equal to 100")
	}
	events, next, err := s.Filter(FilterQuery{
		Group:        name,
		Streams:      in.LogStreamNames,
		StreamPrefix: deref(in.LogStreamNamePrefix),
		Start:        deref(in.StartTime),
		End:          deref(in.EndTime),
		Pattern:      deref(in.FilterPattern),
		Limit:        limit,
		Token:        deref(in.NextToken),
	})
	if err != nil {
		return nil, err
	}
	out := filterLogEventsOutput{
		Events:             make([]filteredLogEventJSON, len(events)),
		SearchedLogStreams: []searchedLogStreamJSON{},
		NextToken:          next,
	}
	for i, e := range events {
		out.Events[i] = filteredLogEventJSON{
			LogStreamName: e.Stream,
			Timestamp:     e.Timestamp,
			Message:       e.Message,
			IngestionTime: e.Ingestion,
			EventID:       e.EventID,
		}
	}
	return out, nil
}
