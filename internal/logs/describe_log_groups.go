package logs

import "strings"

type describeLogGroupsInput struct {
	LogGroupNamePrefix  *string  `json:"logGroupNamePrefix"`
	LogGroupNamePattern *string  `json:"logGroupNamePattern"`
	LogGroupIdentifiers []string `json:"logGroupIdentifiers"`
	Limit               *int     `json:"limit"`
	NextToken           *string  `json:"nextToken"`
}

type logGroupJSON struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   int    `json:"retentionInDays,omitempty"`
	MetricFilterCount int    `json:"metricFilterCount"`
	Arn               string `json:"arn"`
	StoredBytes       int64  `json:"storedBytes"`
	LogGroupClass     string `json:"logGroupClass"`
	LogGroupArn       string `json:"logGroupArn"`
}

type describeLogGroupsOutput struct {
	LogGroups []logGroupJSON `json:"logGroups"`
	NextToken string         `json:"nextToken,omitempty"`
}

// describeLogGroups lists groups by name, 50 a page at most.
func (s *Store) describeLogGroups(body []byte) (any, error) {
	var in describeLogGroupsInput
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	if in.LogGroupNamePrefix != nil && in.LogGroupNamePattern != nil {
		return nil, kindInvalidParameter.errorf("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	limit, err := limitParam(in.Limit, 50, 50)
	if err != nil {
		return nil, err
	}
	var after string
	if in.NextToken != nil {
		if after, err = decodeNameToken(*in.NextToken); err != nil {
			return nil, err
		}
	}
	var ids map[string]bool
	if len(in.LogGroupIdentifiers) > 0 {
		ids = make(map[string]bool, len(in.LogGroupIdentifiers))
		for _, id := range in.LogGroupIdentifiers {
			name, err := groupName(nil, &id)
			if err != nil {
				return nil, err
			}
			ids[name] = true
		}
	}
	pattern := strings.ToLower(deref(in.LogGroupNamePattern))

	out := describeLogGroupsOutput{LogGroups: []logGroupJSON{}}
	for _, g := range s.Groups(deref(in.LogGroupNamePrefix)) {
		if g.Name <= after && in.NextToken != nil {
			continue
		}
		if ids != nil && !ids[g.Name] || !strings.Contains(strings.ToLower(g.Name), pattern) {
			continue
		}
		if len(out.LogGroups) == limit {
			out.NextToken = encodeNameToken(out.LogGroups[limit-1].LogGroupName)
			break
		}
		arn := s.groupARN(g.Name)
		out.LogGroups = append(out.LogGroups, logGroupJSON{
			LogGroupName:    g.Name,
			CreationTime:    g.CreationTime,
			RetentionInDays: g.RetentionInDays,
			Arn:             arn + ":*",
			StoredBytes:     g.StoredBytes,
			LogGroupClass:   "STANDARD",
			LogGroupArn:     arn,
		})
	}
	return out, nil
}
