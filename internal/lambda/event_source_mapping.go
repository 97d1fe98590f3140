package lambda

import (
	"encoding/json"
	"math"
	"time"
)

// Event source mapping states (EventSourceMappingConfiguration.State).
const (
	ESMCreating  = "Creating"
	ESMEnabling  = "Enabling"
	ESMEnabled   = "Enabled"
	ESMDisabling = "Disabling"
	ESMDisabled  = "Disabled"
	ESMUpdating  = "Updating"
	ESMDeleting  = "Deleting"
)

// Event source mapping limits and defaults (Lambda's, per source kind).
const (
	MaxESMBatchSizeQueue       = 10000 // SQS-shaped sources
	MaxESMBatchSizeStream      = 10000 // Kinesis-shaped sources
	DefaultESMBatchSizeQueue   = 10
	DefaultESMBatchSizeStream  = 100
	DefaultESMBatchSizeMQ      = 100
	MaxESMBatchSizeMQ          = 10000
	MaxESMBatchingWindow       = 300 // seconds
	MinESMMaximumConcurrency   = 2
	MaxESMMaximumConcurrency   = 1000
	MaxESMParallelization      = 10
	MaxESMRetryAttempts        = 10000 // -1 = infinite
	MinESMRecordAge            = 60    // seconds; -1 = infinite
	MaxESMRecordAge            = 604800
	MaxESMPage                 = 100 // ListEventSourceMappings' MaxItems ceiling
	ESMReportBatchItemFailures = "ReportBatchItemFailures"
)

// Starting positions of stream sources.
const (
	StartTrimHorizon = "TRIM_HORIZON"
	StartLatest      = "LATEST"
	StartAtTimestamp = "AT_TIMESTAMP"
)

// EventSourceMapping is one event source mapping as Gust stores it and as
// the API renders it (EventSourceMappingConfiguration). Field names and
// JSON keys are the Lambda API's. Optional settings that a source kind
// does not use are nil and left out of the JSON.
type EventSourceMapping struct {
	UUID                           string          `json:"UUID"`
	EventSourceMappingArn          string          `json:"EventSourceMappingArn,omitempty"`
	EventSourceArn                 string          `json:"EventSourceArn"`
	FunctionArn                    string          `json:"FunctionArn"`
	State                          string          `json:"State"`
	StateTransitionReason          string          `json:"StateTransitionReason,omitempty"`
	LastProcessingResult           string          `json:"LastProcessingResult,omitempty"`
	LastModified                   EpochSeconds    `json:"LastModified"`
	BatchSize                      *int            `json:"BatchSize,omitempty"`
	MaximumBatchingWindowInSeconds *int            `json:"MaximumBatchingWindowInSeconds,omitempty"`
	StartingPosition               string          `json:"StartingPosition,omitempty"`
	StartingPositionTimestamp      *EpochSeconds   `json:"StartingPositionTimestamp,omitempty"`
	ParallelizationFactor          *int            `json:"ParallelizationFactor,omitempty"`
	MaximumRetryAttempts           *int            `json:"MaximumRetryAttempts,omitempty"`
	MaximumRecordAgeInSeconds      *int            `json:"MaximumRecordAgeInSeconds,omitempty"`
	BisectBatchOnFunctionError     *bool           `json:"BisectBatchOnFunctionError,omitempty"`
	TumblingWindowInSeconds        *int            `json:"TumblingWindowInSeconds,omitempty"`
	FilterCriteria                 *FilterCriteria `json:"FilterCriteria,omitempty"`
	FunctionResponseTypes          []string        `json:"FunctionResponseTypes,omitempty"`
	ScalingConfig                  *ScalingConfig  `json:"ScalingConfig,omitempty"`
	DestinationConfig              *ESMDestination `json:"DestinationConfig,omitempty"`
	Queues                         []string        `json:"Queues,omitempty"` // Amazon MQ shape: the queue to consume
	SourceAccessConfigurations     []SourceAccess  `json:"SourceAccessConfigurations,omitempty"`
}

// Kinds of event source, from the ARN a mapping names: they decide which
// settings a mapping takes and their defaults.
const (
	ESMSourceQueue  = "queue"  // an SQS ARN
	ESMSourceStream = "stream" // a Kinesis ARN
	ESMSourceMQ     = "mq"     // an Amazon MQ broker ARN (a RabbitMQ source)
)

// State reasons and the processing result a new mapping starts with. Lambda
// reports a new SQS or Amazon MQ mapping as USER_INITIATED and a new
// stream mapping as "User action".
const (
	ESMReasonUserInitiated = "USER_INITIATED"
	ESMReasonUserAction    = "User action"
	ESMNoRecordsProcessed  = "No records processed"
)

// EventSourceMappingInput is the request body of CreateEventSourceMapping
// and UpdateEventSourceMapping, with the Lambda API's JSON keys. Pointers,
// and nil against empty slices, tell "left out" from a zero value: an
// update changes only what it names, and FunctionResponseTypes [] or
// FilterCriteria {} clear those settings.
type EventSourceMappingInput struct {
	FunctionName                   *string           `json:"FunctionName"`
	EventSourceArn                 *string           `json:"EventSourceArn"`
	Enabled                        *bool             `json:"Enabled"`
	BatchSize                      *int              `json:"BatchSize"`
	MaximumBatchingWindowInSeconds *int              `json:"MaximumBatchingWindowInSeconds"`
	StartingPosition               *string           `json:"StartingPosition"`
	StartingPositionTimestamp      *EpochSeconds     `json:"StartingPositionTimestamp"`
	FilterCriteria                 *FilterCriteria   `json:"FilterCriteria"`
	FunctionResponseTypes          []string          `json:"FunctionResponseTypes"`
	ScalingConfig                  *ScalingConfig    `json:"ScalingConfig"`
	DestinationConfig              *ESMDestination   `json:"DestinationConfig"`
	MaximumRetryAttempts           *int              `json:"MaximumRetryAttempts"`
	MaximumRecordAgeInSeconds      *int              `json:"MaximumRecordAgeInSeconds"`
	BisectBatchOnFunctionError     *bool             `json:"BisectBatchOnFunctionError"`
	ParallelizationFactor          *int              `json:"ParallelizationFactor"`
	TumblingWindowInSeconds        *int              `json:"TumblingWindowInSeconds"`
	Queues                         []string          `json:"Queues"`
	SourceAccessConfigurations     []SourceAccess    `json:"SourceAccessConfigurations"`
	Tags                           map[string]string `json:"Tags"`
}

// EventSourceMappingARN is the ARN of the mapping with this UUID, the
// resource IAM evaluates Get, Update and Delete against.
func (id Identity) EventSourceMappingARN(uuid string) string {
	return "arn:aws:lambda:" + id.Region + ":" + id.Account + ":event-source-mapping:" + uuid
}

// EventSourceMappingNotFound is what Get, Update and Delete send for a
// UUID no mapping has.
func EventSourceMappingNotFound() *Error {
	return KindResourceNotFound.Errorf("The resource you requested does not exist.")
}

// EventSourceMappingInUse refuses to change a mapping that is between
// states (being created, updated, enabled, disabled or deleted).
func EventSourceMappingInUse(op string) *Error {
	return KindResourceInUse.Errorf("Cannot %s the event source mapping because it is in use.", op)
}

// EpochSeconds is a time the API writes as fractional epoch seconds, as
// the Lambda REST API renders LastModified of event source mappings.
type EpochSeconds struct{ time.Time }

// FilterCriteria holds up to five event patterns; a record is passed on
// when any one matches.
type FilterCriteria struct {
	Filters []Filter `json:"Filters"`
}

// Filter is one event pattern (JSON text, as the API takes it).
type Filter struct {
	Pattern string `json:"Pattern"`
}

// ScalingConfig caps the concurrent invocations of a queue mapping.
type ScalingConfig struct {
	MaximumConcurrency *int `json:"MaximumConcurrency,omitempty"`
}

// ESMDestination is where records that could not be processed go.
type ESMDestination struct {
	OnFailure *OnFailure `json:"OnFailure,omitempty"`
	OnSuccess *OnFailure `json:"OnSuccess,omitempty"`
}

// OnFailure names a destination ARN.
type OnFailure struct {
	Destination string `json:"Destination,omitempty"`
}

// SourceAccess is one SourceAccessConfigurations entry.
type SourceAccess struct {
	Type string `json:"Type"`
	URI  string `json:"URI"`
}

// MarshalJSON writes t as epoch seconds with millisecond precision.
func (t EpochSeconds) MarshalJSON() ([]byte, error) {
	return json.Marshal(float64(t.UnixMilli()) / 1000)
}

// UnmarshalJSON reads epoch seconds, fractional or whole.
func (t *EpochSeconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
	return nil
}
