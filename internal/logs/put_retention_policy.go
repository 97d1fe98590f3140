package logs

import "strconv"

type putRetentionPolicyInput struct {
	LogGroupName    *string `json:"logGroupName"`
	RetentionInDays *int    `json:"retentionInDays"`
}

// putRetentionPolicy sets how long a group keeps its events.
func (s *Store) putRetentionPolicy(body []byte) (any, error) {
	var in putRetentionPolicyInput
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	if in.LogGroupName == nil {
		return nil, errNullGroupName
	}
	if in.RetentionInDays == nil {
		return nil, kindInvalidParameter.errorf("1 validation error detected: Value null at 'retentionInDays' failed to satisfy constraint: Member must not be null")
	}
	if *in.RetentionInDays == 0 { // SetRetention reads 0 as "no policy"
		return nil, invalidRetention(strconv.Itoa(*in.RetentionInDays))
	}
	if err := s.SetRetention(*in.LogGroupName, *in.RetentionInDays); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

type deleteRetentionPolicyInput struct {
	LogGroupName *string `json:"logGroupName"`
}

// deleteRetentionPolicy makes a group keep its events forever.
func (s *Store) deleteRetentionPolicy(body []byte) (any, error) {
	var in deleteRetentionPolicyInput
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	if in.LogGroupName == nil {
		return nil, errNullGroupName
	}
	if err := s.SetRetention(*in.LogGroupName, 0); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
