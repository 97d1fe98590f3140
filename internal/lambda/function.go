package lambda

import "time"

// LatestVersion is the only mutable version of a function.
const LatestVersion = "$LATEST"

// Function is one version of a function as Gust stores it: configuration
// plus a reference to its code. JSON tags are the storage format; the api
// package renders the AWS FunctionConfiguration from it.
type Function struct {
	Name             string            `json:"name"`
	Version          string            `json:"version"` // LatestVersion or "1", "2", …
	Runtime          string            `json:"runtime"`
	Handler          string            `json:"handler"`
	Role             string            `json:"role"`
	Description      string            `json:"description,omitempty"`
	Timeout          int               `json:"timeout"`    // seconds
	MemorySize       int               `json:"memorySize"` // MB
	EphemeralStorage int               `json:"ephemeralStorage"`
	Environment      map[string]string `json:"environment,omitempty"`
	Architectures    []string          `json:"architectures"`
	PackageType      string            `json:"packageType"`
	TracingMode      string            `json:"tracingMode"`
	Logging          LoggingConfig     `json:"logging"`
	DeadLetterTarget string            `json:"deadLetterTarget,omitempty"`
	Layers           []string          `json:"layers,omitempty"`
	KMSKeyArn        string            `json:"kmsKeyArn,omitempty"`
	Tags             map[string]string `json:"tags,omitempty"`

	CodeSha256   string    `json:"codeSha256"` // base64 SHA-256 of the zip
	CodeSize     int64     `json:"codeSize"`   // bytes of the zip
	CodeUnzipped int64     `json:"codeUnzipped"`
	LastModified time.Time `json:"lastModified"`
	RevisionID   string    `json:"revisionId"`
}

// LoggingConfig is Lambda's advanced logging configuration.
type LoggingConfig struct {
	LogFormat           string `json:"logFormat"` // Text | JSON
	ApplicationLogLevel string `json:"applicationLogLevel,omitempty"`
	SystemLogLevel      string `json:"systemLogLevel,omitempty"`
	LogGroup            string `json:"logGroup"`
}

// Defaults Lambda applies when a field is left out of CreateFunction.
const (
	DefaultTimeout          = 3
	DefaultMemorySize       = 128
	DefaultEphemeralStorage = 512
	DefaultArchitecture     = "x86_64"
	DefaultTracingMode      = "PassThrough"
	PackageTypeZip          = "Zip"
	LogFormatText           = "Text"
	LogFormatJSON           = "JSON"
)

// LogGroupName is the default log group of a function.
func LogGroupName(function string) string { return "/aws/lambda/" + function }

// ApplyDefaults fills the fields CreateFunction leaves out.
func (f *Function) ApplyDefaults() {
	if f.Version == "" {
		f.Version = LatestVersion
	}
	if f.Timeout == 0 {
		f.Timeout = DefaultTimeout
	}
	if f.MemorySize == 0 {
		f.MemorySize = DefaultMemorySize
	}
	if f.EphemeralStorage == 0 {
		f.EphemeralStorage = DefaultEphemeralStorage
	}
	if len(f.Architectures) == 0 {
		f.Architectures = []string{DefaultArchitecture}
	}
	if f.PackageType == "" {
		f.PackageType = PackageTypeZip
	}
	if f.TracingMode == "" {
		f.TracingMode = DefaultTracingMode
	}
	if f.Logging.LogFormat == "" {
		f.Logging.LogFormat = LogFormatText
	}
	if f.Logging.LogGroup == "" {
		f.Logging.LogGroup = LogGroupName(f.Name)
	}
}
