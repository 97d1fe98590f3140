package api

import (
	"gust/internal/lambda"
)

// functionInput holds the configuration members shared by CreateFunction
// and UpdateFunctionConfiguration. Pointers distinguish "left out" (keep)
// from a zero value.
type functionInput struct {
	Runtime     *string `json:"Runtime"`
	Role        *string `json:"Role"`
	Handler     *string `json:"Handler"`
	Description *string `json:"Description"`
	Timeout     *int    `json:"Timeout"`
	MemorySize  *int    `json:"MemorySize"`
	Environment *struct {
		Variables map[string]string `json:"Variables"`
	} `json:"Environment"`
	EphemeralStorage *struct {
		Size int `json:"Size"`
	} `json:"EphemeralStorage"`
	TracingConfig *struct {
		Mode string `json:"Mode"`
	} `json:"TracingConfig"`
	DeadLetterConfig *struct {
		TargetArn string `json:"TargetArn"`
	} `json:"DeadLetterConfig"`
	LoggingConfig *struct {
		LogFormat           string `json:"LogFormat"`
		ApplicationLogLevel string `json:"ApplicationLogLevel"`
		SystemLogLevel      string `json:"SystemLogLevel"`
		LogGroup            string `json:"LogGroup"`
	} `json:"LoggingConfig"`
	KMSKeyArn  *string  `json:"KMSKeyArn"`
	Layers     []string `json:"Layers"`
	RevisionId string   `json:"RevisionId"`
}

// apply copies every member that was given onto fn.
func (in *functionInput) apply(fn *lambda.Function) {
	if in.Runtime != nil {
		fn.Runtime = *in.Runtime
	}
	if in.Role != nil {
		fn.Role = *in.Role
	}
	if in.Handler != nil {
		fn.Handler = *in.Handler
	}
	if in.Description != nil {
		fn.Description = *in.Description
	}
	if in.Timeout != nil {
		fn.Timeout = *in.Timeout
	}
	if in.MemorySize != nil {
		fn.MemorySize = *in.MemorySize
	}
	if in.Environment != nil {
		fn.Environment = in.Environment.Variables
	}
	if in.EphemeralStorage != nil {
		fn.EphemeralStorage = in.EphemeralStorage.Size
	}
	if in.TracingConfig != nil && in.TracingConfig.Mode != "" {
		fn.TracingMode = in.TracingConfig.Mode
	}
	if in.DeadLetterConfig != nil {
		fn.DeadLetterTarget = in.DeadLetterConfig.TargetArn
	}
	if lc := in.LoggingConfig; lc != nil {
		if lc.LogFormat != "" {
			fn.Logging.LogFormat = lc.LogFormat
		}
		if lc.ApplicationLogLevel != "" {
			fn.Logging.ApplicationLogLevel = lc.ApplicationLogLevel
		}
		if lc.SystemLogLevel != "" {
			fn.Logging.SystemLogLevel = lc.SystemLogLevel
		}
		if lc.LogGroup != "" {
			fn.Logging.LogGroup = lc.LogGroup
		}
	}
	// In JSON format Lambda fills in INFO for levels left out, and reports
	// them; they do not apply to Text.
	if fn.Logging.LogFormat == lambda.LogFormatJSON {
		if fn.Logging.ApplicationLogLevel == "" {
			fn.Logging.ApplicationLogLevel = "INFO"
		}
		if fn.Logging.SystemLogLevel == "" {
			fn.Logging.SystemLogLevel = "INFO"
		}
	}
	if in.KMSKeyArn != nil {
		fn.KMSKeyArn = *in.KMSKeyArn
	}
}

// validateUnsupported rejects members Gust accepts on the wire but cannot
// honour, rather than ignoring them silently.
func (in *functionInput) validateUnsupported() error {
	if len(in.Layers) > 0 {
		return lambda.KindInvalidParameterValue.Errorf("Layers are not supported by Gust yet; include dependencies in the deployment package")
	}
	if in.DeadLetterConfig != nil {
		if err := lambda.ValidateDeadLetterTarget(in.DeadLetterConfig.TargetArn); err != nil {
			return err
		}
	}
	return nil
}
