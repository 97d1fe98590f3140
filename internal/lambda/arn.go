package lambda

import (
	"strings"

	"gust/internal/lazyre"
)

// FunctionRef is a parsed FunctionName parameter: a bare name, name:qualifier,
// a partial ARN (account:function:name[:qualifier]) or a full ARN.
// Region and Account are empty unless the reference named them.
type FunctionRef struct {
	Name      string
	Qualifier string
	Region    string
	Account   string
}

var (
	namePattern      = lazyre.New(`^[a-zA-Z0-9_-]{1,64}$`)
	qualifierPattern = lazyre.New(`^(\$LATEST|[a-zA-Z0-9_-]{1,128})$`)
	versionPattern   = lazyre.New(`^[0-9]+$`)
	accountPattern   = lazyre.New(`^[0-9]{12}$`)
	regionPattern    = lazyre.New(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
)

// maxFunctionRefLength bounds the FunctionName parameter; full ARNs with a
// qualifier may be longer than the model's 140 for bare names.
const maxFunctionRefLength = 256

// ParseFunctionRef parses a FunctionName parameter in any of the forms the
// Lambda API accepts. The error is an InvalidParameterValueException.
func ParseFunctionRef(s string) (FunctionRef, error) {
	bad := func() (FunctionRef, error) {
		return FunctionRef{}, KindInvalidParameterValue.Errorf(
			"1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?", s)
	}
	if s == "" || len(s) > maxFunctionRefLength {
		return bad()
	}
	parts := strings.Split(s, ":")
	var ref FunctionRef
	switch {
	case strings.HasPrefix(s, "arn:"):
		// arn:aws:lambda:region:account:function:name[:qualifier]
		if len(parts) < 7 || len(parts) > 8 || !strings.HasPrefix(parts[1], "aws") ||
			parts[2] != "lambda" || parts[5] != "function" {
			return bad()
		}
		if !regionPattern.MatchString(parts[3]) || !accountPattern.MatchString(parts[4]) {
			return bad()
		}
		ref = FunctionRef{Region: parts[3], Account: parts[4], Name: parts[6]}
		if len(parts) == 8 {
			ref.Qualifier = parts[7]
		}
	case len(parts) >= 3 && parts[1] == "function":
		// account:function:name[:qualifier]
		if len(parts) > 4 || !accountPattern.MatchString(parts[0]) {
			return bad()
		}
		ref = FunctionRef{Account: parts[0], Name: parts[2]}
		if len(parts) == 4 {
			ref.Qualifier = parts[3]
		}
	case len(parts) <= 2:
		ref.Name = parts[0]
		if len(parts) == 2 {
			ref.Qualifier = parts[1]
		}
	default:
		return bad()
	}
	if !namePattern.MatchString(ref.Name) {
		return bad()
	}
	if len(parts) > 1 && ref.Qualifier == "" && (len(parts) == 2 || len(parts) == 4 || len(parts) == 8) {
		return bad()
	}
	if ref.Qualifier != "" && !qualifierPattern.MatchString(ref.Qualifier) {
		return bad()
	}
	return ref, nil
}

// ValidQualifier reports whether q is a syntactically valid qualifier.
func ValidQualifier(q string) bool { return qualifierPattern.MatchString(q) }

// IsVersion reports whether q names a version ($LATEST or a number) rather
// than an alias.
func IsVersion(q string) bool { return q == LatestVersion || versionPattern.MatchString(q) }

// ValidFunctionName reports whether name is a valid bare function name.
func ValidFunctionName(name string) bool { return namePattern.MatchString(name) }

// Identity is the account and region ARNs are built in.
type Identity struct {
	Region  string
	Account string
}

// FunctionARN is the unqualified ARN of a function.
func (id Identity) FunctionARN(name string) string {
	return "arn:aws:lambda:" + id.Region + ":" + id.Account + ":function:" + name
}

// QualifiedARN is the ARN of a function with a qualifier; an empty qualifier
// gives the unqualified ARN.
func (id Identity) QualifiedARN(name, qualifier string) string {
	if qualifier == "" {
		return id.FunctionARN(name)
	}
	return id.FunctionARN(name) + ":" + qualifier
}

// Owns reports whether a parsed reference may name a function of this
// identity: a reference that names a region or account must name ours.
func (id Identity) Owns(ref FunctionRef) bool {
	return (ref.Region == "" || ref.Region == id.Region) && (ref.Account == "" || ref.Account == id.Account)
}
