package logs

type deleteLogGroupInput struct {
	LogGroupName *string `json:"logGroupName"`
}

// deleteLogGroup removes a group, its streams and its events.
func (s *Store) deleteLogGroup(body []byte) (any, error) {
	var in deleteLogGroupInput
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	if in.LogGroupName == nil {
		return nil, errNullGroupName
	}
	if err := s.DeleteGroup(*in.LogGroupName); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
