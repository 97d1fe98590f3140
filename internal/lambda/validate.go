package lambda

import (
	"slices"
	"strings"

	"gust/internal/lazyre"
)

var (
	envKeyPattern  = lazyre.New(`^[a-zA-Z][a-zA-Z0-9_]+$`)
	handlerPattern = lazyre.New(`^[^\s]+$`)
)

// reservedEnvKeys are set by the platform and may not be configured
// (docs/lambda-compat.md §4.4).
var reservedEnvKeys = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_DEFAULT_REGION": true, "AWS_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true,
	"AWS_LAMBDA_LOG_GROUP_NAME": true, "AWS_LAMBDA_LOG_STREAM_NAME": true,
	"AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true,
	"AWS_SESSION_TOKEN": true, "AWS_LAMBDA_RUNTIME_API": true, "LAMBDA_TASK_ROOT": true,
	"LAMBDA_RUNTIME_DIR": true, "TZ": true, "AWS_LAMBDA_LOG_FORMAT": true, "AWS_LAMBDA_LOG_LEVEL": true,
}

// ReservedEnvKey reports whether key is reserved by the platform.
func ReservedEnvKey(key string) bool { return reservedEnvKeys[key] }

// Validate checks a function's configuration against Lambda's limits. It
// returns an InvalidParameterValueException naming the first problem.
func (f *Function) Validate() error {
	inv := KindInvalidParameterValue.Errorf
	if !ValidFunctionName(f.Name) {
		return inv("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ and have length less than or equal to 64", f.Name)
	}
	family, ok := RuntimeFamily(f.Runtime)
	if !ok {
		return inv("Value %s at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [%s] or be a valid ARN", f.Runtime, strings.Join(SupportedRuntimes(), ", "))
	}
	if err := validateHandler(family, f.Handler); err != nil {
		return err
	}
	if f.MemorySize < MinMemorySize || f.MemorySize > MaxMemorySize {
		return inv("1 validation error detected: Value '%d' at 'memorySize' failed to satisfy constraint: Member must have value between %d and %d, inclusive", f.MemorySize, MinMemorySize, MaxMemorySize)
	}
	if f.Timeout < MinTimeout || f.Timeout > MaxTimeout {
		return inv("1 validation error detected: Value '%d' at 'timeout' failed to satisfy constraint: Member must have value between %d and %d, inclusive", f.Timeout, MinTimeout, MaxTimeout)
	}
	if f.EphemeralStorage < MinEphemeralStorage || f.EphemeralStorage > MaxEphemeralStorage {
		return inv("1 validation error detected: Value '%d' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value between %d and %d, inclusive", f.EphemeralStorage, MinEphemeralStorage, MaxEphemeralStorage)
	}
	if len(f.Description) > MaxDescriptionLength {
		return inv("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", MaxDescriptionLength)
	}
	if len(f.Architectures) != 1 || (f.Architectures[0] != "x86_64" && f.Architectures[0] != "arm64") {
		return inv("1 validation error detected: Value '%v' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1, and member must satisfy enum value set: [x86_64, arm64]", f.Architectures)
	}
	if f.PackageType != PackageTypeZip {
		return inv("Gust runs zip packages only; PackageType %s is not supported", f.PackageType)
	}
	if f.TracingMode != "PassThrough" && f.TracingMode != "Active" {
		return inv("1 validation error detected: Value '%s' at 'tracingConfig.mode' failed to satisfy constraint: Member must satisfy enum value set: [Active, PassThrough]", f.TracingMode)
	}
	if f.Logging.LogFormat != LogFormatText && f.Logging.LogFormat != LogFormatJSON {
		return inv("1 validation error detected: Value '%s' at 'loggingConfig.logFormat' failed to satisfy constraint: Member must satisfy enum value set: [JSON, Text]", f.Logging.LogFormat)
	}
	if l := f.Logging.ApplicationLogLevel; l != "" && !slices.Contains(applicationLogLevels, l) {
		return inv("1 validation error detected: Value '%s' at 'loggingConfig.applicationLogLevel' failed to satisfy constraint: Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]", l)
	}
	if l := f.Logging.SystemLogLevel; l != "" && !slices.Contains(systemLogLevels, l) {
		return inv("1 validation error detected: Value '%s' at 'loggingConfig.systemLogLevel' failed to satisfy constraint: Member must satisfy enum value set: [DEBUG, INFO, WARN]", l)
	}
	return ValidateEnvironment(f.Environment)
}

// The levels LoggingConfig accepts.
var (
	applicationLogLevels = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
	systemLogLevels      = []string{"DEBUG", "INFO", "WARN"}
)

func validateHandler(family, handler string) error {
	inv := KindInvalidParameterValue.Errorf
	if handler == "" {
		return inv("Handler is required for zip-packaged functions")
	}
	if len(handler) > MaxHandlerLength || !handlerPattern.MatchString(handler) {
		return inv("1 validation error detected: Value '%s' at 'handler' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+ and have length less than or equal to %d", handler, MaxHandlerLength)
	}
	if family == FamilyProvided {
		return nil
	}
	dot := strings.LastIndexByte(handler, '.')
	if dot <= 0 || dot == len(handler)-1 {
		return inv("Handler '%s' is not valid for this runtime: expected <module>.<function>, e.g. index.handler", handler)
	}
	return nil
}

// ValidateEnvironment checks variable names, reserved keys and the 4 KB
// total size of an environment map.
func ValidateEnvironment(env map[string]string) error {
	inv := KindInvalidParameterValue.Errorf
	size := 0
	for k, v := range env {
		if !envKeyPattern.MatchString(k) {
			return inv("1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
		}
		if ReservedEnvKey(k) {
			return inv("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", k)
		}
		size += len(k) + len(v)
	}
	if size > MaxEnvironmentBytes {
		return inv("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %d", size)
	}
	return nil
}
