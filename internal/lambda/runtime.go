package lambda

import "strings"

// Runtime families Gust can run.
const (
	FamilyProvided = "provided"
	FamilyNode     = "nodejs"
	FamilyPython   = "python"
)

// supportedRuntimes maps each runtime id Gust accepts to its family.
var supportedRuntimes = map[string]string{
	"provided.al2023": FamilyProvided,
	"provided.al2":    FamilyProvided,
	"provided":        FamilyProvided,
	"nodejs18.x":      FamilyNode,
	"nodejs20.x":      FamilyNode,
	"nodejs22.x":      FamilyNode,
	"python3.9":       FamilyPython,
	"python3.10":      FamilyPython,
	"python3.11":      FamilyPython,
	"python3.12":      FamilyPython,
	"python3.13":      FamilyPython,
}

// RuntimeFamily returns the family of a runtime id and whether Gust
// supports it.
func RuntimeFamily(runtime string) (string, bool) {
	f, ok := supportedRuntimes[runtime]
	return f, ok
}

// SupportedRuntimes lists the runtime ids Gust accepts, for messages.
func SupportedRuntimes() []string {
	return []string{"nodejs18.x", "nodejs20.x", "nodejs22.x",
		"python3.9", "python3.10", "python3.11", "python3.12", "python3.13",
		"provided", "provided.al2", "provided.al2023"}
}

// ExecutionEnv is the AWS_EXECUTION_ENV value of a managed runtime, or ""
// for provided runtimes, which Lambda leaves it unset for.
func ExecutionEnv(runtime string) string {
	if strings.HasPrefix(runtime, "provided") {
		return ""
	}
	return "AWS_Lambda_" + runtime
}
