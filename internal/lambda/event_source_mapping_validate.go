package lambda

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Event source mapping limits of the service model and of the service that
// the kind-independent checks use.
const (
	MinESMBatchSize           = 1
	MaxESMTumblingWindow      = 900 // seconds
	MaxESMFilters             = 5   // Lambda's default quota of filters per mapping
	MaxESMFilterPatternLength = 4096
	MaxESMQueueNameLength     = 1000 // Amazon MQ queue names in Queues
)

// startingPositions is the model's enum, in the order Lambda lists it.
var startingPositions = []string{StartLatest, StartAtTimestamp, StartTrimHorizon}

// Validate checks a Create or Update body against the service model's
// constraints (ranges, enums, lengths). Every violation is reported in one
// ValidationException, as Lambda reports them; nil means the body may go
// on to the checks that depend on the source (ApplyTo).
func (in *EventSourceMappingInput) Validate() error {
	var vs []Violation
	add := func(v *Violation) {
		if v != nil {
			vs = append(vs, *v)
		}
	}
	ranges := []struct {
		member string
		n      *int
		lo, hi int
	}{
		{"batchSize", in.BatchSize, MinESMBatchSize, MaxESMBatchSizeStream},
		{"maximumBatchingWindowInSeconds", in.MaximumBatchingWindowInSeconds, 0, MaxESMBatchingWindow},
		{"parallelizationFactor", in.ParallelizationFactor, 1, MaxESMParallelization},
		{"maximumRetryAttempts", in.MaximumRetryAttempts, -1, MaxESMRetryAttempts},
		{"maximumRecordAgeInSeconds", in.MaximumRecordAgeInSeconds, -1, MaxESMRecordAge},
		{"tumblingWindowInSeconds", in.TumblingWindowInSeconds, 0, MaxESMTumblingWindow},
	}
	for _, r := range ranges {
		if r.n != nil {
			add(RangeViolation(r.member, *r.n, r.lo, r.hi))
		}
	}
	if sc := in.ScalingConfig; sc != nil && sc.MaximumConcurrency != nil {
		add(RangeViolation("scalingConfig.maximumConcurrency", *sc.MaximumConcurrency, MinESMMaximumConcurrency, MaxESMMaximumConcurrency))
	}
	if sp := in.StartingPosition; sp != nil && !slices.Contains(startingPositions, *sp) {
		add(&Violation{Value: *sp, Member: "startingPosition",
			Constraint: "Member must satisfy enum value set: [" + strings.Join(startingPositions, ", ") + "]"})
	}
	add(responseTypesViolation(in.FunctionResponseTypes))
	add(queuesViolation(in.Queues))
	if fc := in.FilterCriteria; fc != nil {
		for i, f := range fc.Filters {
			if len(f.Pattern) > MaxESMFilterPatternLength {
				add(&Violation{Value: f.Pattern, Member: "filterCriteria.filters." + strconv.Itoa(i+1) + ".member.pattern",
					Constraint: fmt.Sprintf("Member must have length less than or equal to %d", MaxESMFilterPatternLength)})
			}
		}
	}
	return ValidationFailed(vs...)
}

// responseTypesViolation checks FunctionResponseTypes: at most one entry,
// ReportBatchItemFailures.
func responseTypesViolation(types []string) *Violation {
	value := "[" + strings.Join(types, ", ") + "]"
	if len(types) > 1 {
		return &Violation{Value: value, Member: "functionResponseTypes", Constraint: "Member must have length less than or equal to 1"}
	}
	for _, t := range types {
		if t != ESMReportBatchItemFailures {
			return &Violation{Value: value, Member: "functionResponseTypes",
				Constraint: "Member must satisfy constraint: [Member must satisfy enum value set: [" + ESMReportBatchItemFailures + "]]"}
		}
	}
	return nil
}

// queuesViolation checks Queues when given: exactly one name of 1 to 1000
// characters.
func queuesViolation(queues []string) *Violation {
	if queues == nil {
		return nil
	}
	value := "[" + strings.Join(queues, ", ") + "]"
	switch {
	case len(queues) < 1:
		return &Violation{Value: value, Member: "queues", Constraint: "Member must have length greater than or equal to 1"}
	case len(queues) > 1:
		return &Violation{Value: value, Member: "queues", Constraint: "Member must have length less than or equal to 1"}
	case len(queues[0]) < 1 || len(queues[0]) > MaxESMQueueNameLength:
		return &Violation{Value: value, Member: "queues", Constraint: fmt.Sprintf(
			"Member must satisfy constraint: [Member must have length less than or equal to %d, Member must have length greater than or equal to 1]", MaxESMQueueNameLength)}
	}
	return nil
}

// unsupportedFor lists, per source kind, the settings Lambda refuses for
// it, by their model member names, with whether a body sets each.
func (in *EventSourceMappingInput) unsupportedFor(kind string) []string {
	set := map[string]bool{
		"startingPosition":           in.StartingPosition != nil || in.StartingPositionTimestamp != nil,
		"parallelizationFactor":      in.ParallelizationFactor != nil,
		"maximumRetryAttempts":       in.MaximumRetryAttempts != nil,
		"maximumRecordAgeInSeconds":  in.MaximumRecordAgeInSeconds != nil,
		"bisectBatchOnFunctionError": in.BisectBatchOnFunctionError != nil,
		"tumblingWindowInSeconds":    in.TumblingWindowInSeconds != nil,
		"destinationConfig":          in.DestinationConfig != nil,
		"scalingConfig":              in.ScalingConfig != nil,
		"queues":                     len(in.Queues) > 0,
		"functionResponseTypes":      len(in.FunctionResponseTypes) > 0,
	}
	refused := map[string][]string{
		ESMSourceQueue: {"startingPosition", "parallelizationFactor", "maximumRetryAttempts", "maximumRecordAgeInSeconds",
			"bisectBatchOnFunctionError", "tumblingWindowInSeconds", "destinationConfig", "queues"},
		ESMSourceStream: {"scalingConfig", "queues"},
		ESMSourceMQ: {"startingPosition", "parallelizationFactor", "maximumRetryAttempts", "maximumRecordAgeInSeconds",
			"bisectBatchOnFunctionError", "tumblingWindowInSeconds", "destinationConfig", "scalingConfig", "functionResponseTypes"},
	}[kind]
	var out []string
	for _, member := range refused {
		if set[member] {
			out = append(out, member)
		}
	}
	return out
}

// ApplyTo merges the settings of a body that Validate accepted into m, a
// mapping of a source of kind (ESMSourceQueue, ESMSourceStream or
// ESMSourceMQ). On create it also fills Lambda's defaults for the kind,
// so that Get returns them as Lambda does. It refuses settings the kind
// does not take and checks the rules that join several settings, on the
// merged result. It writes to m even when it fails: callers pass a copy.
// Fields that identify the mapping (FunctionName, EventSourceArn,
// Enabled) are the caller's.
func (in *EventSourceMappingInput) ApplyTo(m *EventSourceMapping, kind string, create bool) error {
	if bad := in.unsupportedFor(kind); len(bad) > 0 {
		if bad[0] == "startingPosition" && kind == ESMSourceQueue {
			return KindInvalidParameterValue.Errorf("StartingPosition is not valid for SQS event sources.")
		}
		return KindInvalidParameterValue.Errorf("Unsupported '%s' parameter for given event source mapping type.", bad[0])
	}
	if err := in.mergeInto(m, create); err != nil {
		return err
	}
	if create {
		fillESMDefaults(m, kind)
	}
	return checkESM(m, kind)
}

// mergeInto copies the settings the body names into m.
func (in *EventSourceMappingInput) mergeInto(m *EventSourceMapping, create bool) error {
	setInt := func(dst **int, src *int) {
		if src != nil {
			*dst = new(int)
			**dst = *src
		}
	}
	setInt(&m.BatchSize, in.BatchSize)
	setInt(&m.MaximumBatchingWindowInSeconds, in.MaximumBatchingWindowInSeconds)
	setInt(&m.ParallelizationFactor, in.ParallelizationFactor)
	setInt(&m.MaximumRetryAttempts, in.MaximumRetryAttempts)
	setInt(&m.MaximumRecordAgeInSeconds, in.MaximumRecordAgeInSeconds)
	setInt(&m.TumblingWindowInSeconds, in.TumblingWindowInSeconds)
	if in.BisectBatchOnFunctionError != nil {
		m.BisectBatchOnFunctionError = new(bool)
		*m.BisectBatchOnFunctionError = *in.BisectBatchOnFunctionError
	}
	if in.FunctionResponseTypes != nil {
		m.FunctionResponseTypes = nil
		if len(in.FunctionResponseTypes) > 0 {
			m.FunctionResponseTypes = slices.Clone(in.FunctionResponseTypes)
		}
	}
	if fc := in.FilterCriteria; fc != nil {
		m.FilterCriteria = nil
		if len(fc.Filters) > 0 {
			m.FilterCriteria = &FilterCriteria{Filters: slices.Clone(fc.Filters)}
		}
	}
	if sc := in.ScalingConfig; sc != nil {
		m.ScalingConfig = nil
		if sc.MaximumConcurrency != nil {
			m.ScalingConfig = &ScalingConfig{}
			setInt(&m.ScalingConfig.MaximumConcurrency, sc.MaximumConcurrency)
		}
	}
	if dc := in.DestinationConfig; dc != nil {
		if dc.OnSuccess != nil && dc.OnSuccess.Destination != "" {
			return KindInvalidParameterValue.Errorf("Unsupported DestinationConfig parameter for given event source mapping type.")
		}
		onFailure := ""
		if dc.OnFailure != nil {
			onFailure = dc.OnFailure.Destination
		}
		m.DestinationConfig = &ESMDestination{OnFailure: &OnFailure{Destination: onFailure}}
	}
	if in.SourceAccessConfigurations != nil {
		m.SourceAccessConfigurations = nil
		if len(in.SourceAccessConfigurations) > 0 {
			m.SourceAccessConfigurations = slices.Clone(in.SourceAccessConfigurations)
		}
	}
	if create {
		if in.StartingPosition != nil {
			m.StartingPosition = *in.StartingPosition
		}
		if ts := in.StartingPositionTimestamp; ts != nil {
			m.StartingPositionTimestamp = &EpochSeconds{ts.Time}
		}
		m.Queues = slices.Clone(in.Queues)
	}
	return nil
}

// fillESMDefaults sets every setting a kind reports and the body left out
// to Lambda's default.
func fillESMDefaults(m *EventSourceMapping, kind string) {
	def := func(dst **int, v int) {
		if *dst == nil {
			*dst = &v
		}
	}
	def(&m.MaximumBatchingWindowInSeconds, 0)
	switch kind {
	case ESMSourceQueue:
		def(&m.BatchSize, DefaultESMBatchSizeQueue)
	case ESMSourceMQ:
		def(&m.BatchSize, DefaultESMBatchSizeMQ)
	case ESMSourceStream:
		def(&m.BatchSize, DefaultESMBatchSizeStream)
		def(&m.ParallelizationFactor, 1)
		def(&m.MaximumRetryAttempts, -1)
		def(&m.MaximumRecordAgeInSeconds, -1)
		def(&m.TumblingWindowInSeconds, 0)
		if m.BisectBatchOnFunctionError == nil {
			m.BisectBatchOnFunctionError = new(bool)
		}
		if m.DestinationConfig == nil {
			m.DestinationConfig = &ESMDestination{OnFailure: &OnFailure{}}
		}
	}
}

// checkESM checks the rules that join settings, on a merged mapping.
func checkESM(m *EventSourceMapping, kind string) error {
	bad := KindInvalidParameterValue.Errorf
	if fc := m.FilterCriteria; fc != nil && len(fc.Filters) > MaxESMFilters {
		return bad("The FilterCriteria of an event source mapping can have at most %d filters; this one has %d.", MaxESMFilters, len(fc.Filters))
	}
	switch kind {
	case ESMSourceQueue:
		if intOrZero(m.BatchSize) > DefaultESMBatchSizeQueue && intOrZero(m.MaximumBatchingWindowInSeconds) < 1 {
			return bad("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
		}
	case ESMSourceMQ:
		if len(m.Queues) != 1 {
			return bad("Queues is required for an Amazon MQ event source: name exactly one queue.")
		}
	case ESMSourceStream:
		if err := checkDynamoDBStreamESM(m); err != nil {
			return err
		}
		return checkStreamESM(m)
	}
	return nil
}

// IsDynamoDBStreamARN reports whether arn is a DynamoDB stream's
// (arn:aws:dynamodb:…:table/NAME/stream/LABEL): a stream source, which
// Gust makes from a PostgreSQL database's change stream.
func IsDynamoDBStreamARN(arn string) bool {
	return strings.HasPrefix(arn, "arn:aws:dynamodb:") && strings.Contains(arn, ":table/") && strings.Contains(arn, "/stream/")
}

// checkDynamoDBStreamESM checks what a DynamoDB stream mapping adds to the
// stream rules: DynamoDB streams start at TRIM_HORIZON or LATEST, and
// Gust's (a PostgreSQL replication slot, which has one reader) are read
// by one lane, so ParallelizationFactor is 1.
func checkDynamoDBStreamESM(m *EventSourceMapping) error {
	if !IsDynamoDBStreamARN(m.EventSourceArn) {
		return nil
	}
	bad := KindInvalidParameterValue.Errorf
	if m.StartingPosition == StartAtTimestamp || m.StartingPositionTimestamp != nil {
		return bad("Unsupported starting position AT_TIMESTAMP for a DynamoDB stream event source: use TRIM_HORIZON or LATEST.")
	}
	if p := intOrZero(m.ParallelizationFactor); p > 1 {
		return bad("ParallelizationFactor must be 1 for this DynamoDB stream: Gust reads a PostgreSQL change stream through one replication slot, which has one reader, so every change is delivered in commit order.")
	}
	return nil
}

// checkStreamESM checks a stream mapping's starting position, record age
// and on-failure destination.
func checkStreamESM(m *EventSourceMapping) error {
	bad := KindInvalidParameterValue.Errorf
	switch {
	case m.StartingPosition == "":
		return bad("1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.")
	case m.StartingPositionTimestamp != nil && m.StartingPosition != StartAtTimestamp:
		return bad("Timestamp only valid with StartingPosition AT_TIMESTAMP")
	case m.StartingPosition == StartAtTimestamp && m.StartingPositionTimestamp == nil:
		return bad("StartingPositionTimestamp is required with StartingPosition AT_TIMESTAMP")
	case m.StartingPositionTimestamp != nil && m.StartingPositionTimestamp.Unix() < 0:
		return bad("StartingPositionTimestamp must not be before the epoch")
	}
	if age := intOrZero(m.MaximumRecordAgeInSeconds); age != -1 && age < MinESMRecordAge {
		return bad("MaximumRecordAgeInSeconds must be either -1 (forever) or between %d and %d (inclusive)", MinESMRecordAge, MaxESMRecordAge)
	}
	if dc := m.DestinationConfig; dc != nil && dc.OnFailure != nil && dc.OnFailure.Destination != "" {
		return CheckESMOnFailure(dc.OnFailure.Destination)
	}
	return nil
}

// CheckESMOnFailure checks a stream mapping's on-failure destination: Lambda
// takes SQS queues, SNS topics and S3 buckets; Gust takes Gust queues,
// written as SQS ARNs. It checks the form only.
func CheckESMOnFailure(arn string) error {
	d, err := ParseDestination(arn)
	if err == nil && d.Kind == DestinationSQS {
		return nil
	}
	return KindInvalidParameterValue.Errorf("The on-failure destination %s of an event source mapping is not supported: Gust takes only a Gust queue, written as an SQS ARN "+
		"(arn:aws:sqs:<region>:<account>:<queue-name>, a name of 1 to 80 characters from [A-Za-z0-9_-]), as DestinationConfig.OnFailure.Destination", arn)
}

// ESMFunctionDoesNotExist is what Create and Update send when FunctionName
// names no function, version or alias: Lambda's words and exception.
func ESMFunctionDoesNotExist() *Error {
	return KindInvalidParameterValue.Errorf("Function does not exist")
}

func intOrZero(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
