package api

import (
	"time"

	"gust/internal/lambda"
)

// functionConfiguration is Lambda's FunctionConfiguration shape (§1.3).
// State and LastUpdateStatus are pointers so ListFunctions can leave them
// out as the service does, while every other operation always sends them
// (waiters depend on it).
type functionConfiguration struct {
	FunctionName     string              `json:"FunctionName"`
	FunctionArn      string              `json:"FunctionArn"`
	Runtime          string              `json:"Runtime"`
	Role             string              `json:"Role"`
	Handler          string              `json:"Handler"`
	CodeSize         int64               `json:"CodeSize"`
	Description      string              `json:"Description"`
	Timeout          int                 `json:"Timeout"`
	MemorySize       int                 `json:"MemorySize"`
	LastModified     string              `json:"LastModified"`
	CodeSha256       string              `json:"CodeSha256"`
	Version          string              `json:"Version"`
	Environment      *environmentOut     `json:"Environment,omitempty"`
	TracingConfig    tracingConfig       `json:"TracingConfig"`
	RevisionId       string              `json:"RevisionId"`
	State            *string             `json:"State,omitempty"`
	StateReason      *string             `json:"StateReason,omitempty"`
	StateReasonCode  *string             `json:"StateReasonCode,omitempty"`
	LastUpdateStatus *string             `json:"LastUpdateStatus,omitempty"`
	PackageType      string              `json:"PackageType"`
	Architectures    []string            `json:"Architectures"`
	EphemeralStorage ephemeralStorage    `json:"EphemeralStorage"`
	SnapStart        snapStartOut        `json:"SnapStart"`
	LoggingConfig    loggingConfig       `json:"LoggingConfig"`
	DeadLetterConfig *deadLetterConfig   `json:"DeadLetterConfig,omitempty"`
	KMSKeyArn        string              `json:"KMSKeyArn,omitempty"`
	RuntimeVersion   *runtimeVersionConf `json:"RuntimeVersionConfig,omitempty"`
}

type environmentOut struct {
	Variables map[string]string `json:"Variables"`
}

type tracingConfig struct {
	Mode string `json:"Mode"`
}

type ephemeralStorage struct {
	Size int `json:"Size"`
}

type snapStartOut struct {
	ApplyOn            string `json:"ApplyOn"`
	OptimizationStatus string `json:"OptimizationStatus"`
}

type loggingConfig struct {
	LogFormat           string `json:"LogFormat,omitempty"`
	ApplicationLogLevel string `json:"ApplicationLogLevel,omitempty"`
	SystemLogLevel      string `json:"SystemLogLevel,omitempty"`
	LogGroup            string `json:"LogGroup,omitempty"`
}

type deadLetterConfig struct {
	TargetArn string `json:"TargetArn,omitempty"`
}

type runtimeVersionConf struct {
	RuntimeVersionArn string `json:"RuntimeVersionArn"`
}

// lastModifiedLayout is how Lambda writes LastModified: milliseconds and
// +0000, never Z.
const lastModifiedLayout = "2006-01-02T15:04:05.000-0700"

func formatLastModified(t time.Time) string { return t.UTC().Format(lastModifiedLayout) }

// configuration renders fn. withState adds State and LastUpdateStatus,
// which every operation but ListFunctions returns.
func (a *API) configuration(fn *lambda.Function, withState bool) functionConfiguration {
	arn := a.id.FunctionARN(fn.Name)
	if fn.Version != lambda.LatestVersion {
		arn = a.id.QualifiedARN(fn.Name, fn.Version)
	}
	c := functionConfiguration{
		FunctionName:     fn.Name,
		FunctionArn:      arn,
		Runtime:          fn.Runtime,
		Role:             fn.Role,
		Handler:          fn.Handler,
		CodeSize:         fn.CodeSize,
		Description:      fn.Description,
		Timeout:          fn.Timeout,
		MemorySize:       fn.MemorySize,
		LastModified:     formatLastModified(fn.LastModified),
		CodeSha256:       fn.CodeSha256,
		Version:          fn.Version,
		TracingConfig:    tracingConfig{Mode: fn.TracingMode},
		RevisionId:       fn.RevisionID,
		PackageType:      fn.PackageType,
		Architectures:    fn.Architectures,
		EphemeralStorage: ephemeralStorage{Size: fn.EphemeralStorage},
		SnapStart:        snapStartOut{ApplyOn: "None", OptimizationStatus: "Off"},
		LoggingConfig: loggingConfig{
			LogFormat:           fn.Logging.LogFormat,
			ApplicationLogLevel: fn.Logging.ApplicationLogLevel,
			SystemLogLevel:      fn.Logging.SystemLogLevel,
			LogGroup:            fn.Logging.LogGroup,
		},
		KMSKeyArn: fn.KMSKeyArn,
	}
	if len(fn.Environment) > 0 {
		c.Environment = &environmentOut{Variables: fn.Environment}
	}
	if fn.DeadLetterTarget != "" {
		c.DeadLetterConfig = &deadLetterConfig{TargetArn: fn.DeadLetterTarget}
	}
	if withState {
		active, successful := "Active", "Successful"
		c.State, c.LastUpdateStatus = &active, &successful
	}
	return c
}
