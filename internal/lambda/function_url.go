package lambda

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"gust/internal/lazyre"
)

// Function URL settings (docs/lambda-compat.md §1.2, the Cors shape of the
// Lambda model).
const (
	URLAuthNone = "NONE"    // anyone may call, if the resource policy lets "*" InvokeFunctionUrl
	URLAuthIAM  = "AWS_IAM" // callers sign with SigV4 and need lambda:InvokeFunctionUrl

	// InvokeModeBuffered is the default. InvokeModeResponseStream is
	// accepted and stored, but Gust serves every URL buffered: the
	// function's whole response is sent once it has finished.
	InvokeModeBuffered       = "BUFFERED"
	InvokeModeResponseStream = "RESPONSE_STREAM"

	URLIDLength         = 32 // lowercase letters and digits
	MaxCorsMaxAge       = 86400
	MaxCorsAllowMethods = 6
	MaxCorsMethodLength = 6
	MaxCorsListItems    = 100 // AllowHeaders, AllowOrigins, ExposeHeaders
	MaxCorsHeaderLength = 1024
	MaxCorsOriginLength = 253
	MaxFunctionURLPage  = 50 // ListFunctionUrlConfigs' MaxItems ceiling
)

// FunctionURL is the URL configuration of a function or of one of its
// aliases, as Gust stores it (CreateFunctionUrlConfig). JSON tags are the
// storage format.
type FunctionURL struct {
	Function string `json:"function"`
	// Qualifier is "" for the function itself or an alias name; Lambda
	// refuses versions and $LATEST.
	Qualifier        string    `json:"qualifier,omitempty"`
	URLID            string    `json:"urlId"`
	AuthType         string    `json:"authType"` // URLAuthNone or URLAuthIAM
	Cors             *Cors     `json:"cors,omitempty"`
	InvokeMode       string    `json:"invokeMode"`
	CreationTime     time.Time `json:"creationTime"`
	LastModifiedTime time.Time `json:"lastModifiedTime"`
}

// Cors is a function URL's cross-origin resource sharing configuration.
// Nil or empty lists allow nothing; "*" in AllowOrigins, AllowMethods or
// AllowHeaders allows any.
type Cors struct {
	AllowCredentials bool     `json:"allowCredentials,omitempty"`
	AllowHeaders     []string `json:"allowHeaders,omitempty"`
	AllowMethods     []string `json:"allowMethods,omitempty"`
	AllowOrigins     []string `json:"allowOrigins,omitempty"`
	ExposeHeaders    []string `json:"exposeHeaders,omitempty"`
	MaxAge           int      `json:"maxAge,omitempty"` // seconds, 0–MaxCorsMaxAge
}

// IsZero reports whether c configures nothing: Lambda treats an empty Cors
// object like none.
func (c *Cors) IsZero() bool {
	return c == nil || (!c.AllowCredentials && len(c.AllowHeaders) == 0 && len(c.AllowMethods) == 0 &&
		len(c.AllowOrigins) == 0 && len(c.ExposeHeaders) == 0 && c.MaxAge == 0)
}

// urlIDPattern is the form of the id Gust hands out; AWS's are the same.
var urlIDPattern = lazyre.New(`^[a-z0-9]{32}$`)

// NewURLID returns a fresh random URL id: 32 lowercase letters and digits,
// so ids are never guessed and never collide.
func NewURLID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, URLIDLength)
	_, _ = rand.Read(b) // never fails on supported platforms
	for i := range b {
		// 256 is not a multiple of 36, so "a" to "d" come up a little
		// more often; the id still carries over 160 bits.
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// ValidURLID reports whether id has the form of a URL id.
func ValidURLID(id string) bool { return urlIDPattern.MatchString(id) }

// urlQualifierModelPattern is the model's pattern for a URL qualifier (an
// alias name, never only digits), as the service quotes it.
const urlQualifierModelPattern = `((?!^\d+$)^[0-9a-zA-Z-_]+$)`

// ValidateURLQualifier checks the Qualifier of a function URL operation:
// "" (the function itself) or an alias name. $LATEST and version numbers
// are ValidationExceptions, worded as the service words them.
func ValidateURLQualifier(q string) error {
	switch {
	case q == "":
		return nil
	case q == LatestVersion || (!versionPattern.MatchString(q) && !aliasNamePattern.MatchString(q)):
		return validationErrors([]string{urlViolation(&q, "qualifier", "Member must satisfy regular expression pattern: "+urlQualifierModelPattern)})
	case versionPattern.MatchString(q):
		return validationErrors([]string{urlViolation(&q, "qualifier", `Member must satisfy regular expression pattern: (^\$LATEST$)|((?!^[0-9]+$)([a-zA-Z0-9-_]+))`)})
	}
	return nil
}

// ValidateFunctionURLSettings checks the members of a Create or Update
// request against the model: nil means left out, which only Create's
// required AuthType refuses.
func ValidateFunctionURLSettings(authType, invokeMode *string, cors *Cors, requireAuthType bool) error {
	var msgs []string
	switch {
	case authType == nil && requireAuthType:
		msgs = append(msgs, urlViolation(nil, "authType", "Member must not be null"))
	case authType != nil && *authType != URLAuthNone && *authType != URLAuthIAM:
		msgs = append(msgs, urlViolation(authType, "authType", "Member must satisfy enum value set: [NONE, AWS_IAM]"))
	}
	if cors != nil {
		msgs = append(msgs, cors.violations()...)
	}
	if invokeMode != nil && *invokeMode != InvokeModeBuffered && *invokeMode != InvokeModeResponseStream {
		msgs = append(msgs, urlViolation(invokeMode, "invokeMode", "Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]"))
	}
	return validationErrors(msgs)
}

// Validate checks a whole stored configuration.
func (u *FunctionURL) Validate() error {
	if !ValidFunctionName(u.Function) {
		return KindInvalidParameterValue.Errorf("Invalid function name %q", u.Function)
	}
	if err := ValidateURLQualifier(u.Qualifier); err != nil {
		return err
	}
	if !ValidURLID(u.URLID) {
		return KindInvalidParameterValue.Errorf("Invalid function URL id %q", u.URLID)
	}
	return ValidateFunctionURLSettings(&u.AuthType, &u.InvokeMode, u.Cors, true)
}

// violations checks the model's list and length constraints.
func (c *Cors) violations() []string {
	var msgs []string
	list := func(member string, items []string, maxItems, minLen, maxLen int) {
		value := "[" + strings.Join(items, ", ") + "]"
		if len(items) > maxItems {
			msgs = append(msgs, urlViolation(&value, member, fmt.Sprintf("Member must have length less than or equal to %d", maxItems)))
		}
		for _, it := range items {
			switch {
			case len(it) > maxLen:
				msgs = append(msgs, urlViolation(&value, member, fmt.Sprintf("Member must satisfy constraint: [Member must have length less than or equal to %d]", maxLen)))
				return
			case len(it) < minLen:
				msgs = append(msgs, urlViolation(&value, member, fmt.Sprintf("Member must satisfy constraint: [Member must have length greater than or equal to %d]", minLen)))
				return
			}
		}
	}
	list("cors.allowHeaders", c.AllowHeaders, MaxCorsListItems, 0, MaxCorsHeaderLength)
	list("cors.allowMethods", c.AllowMethods, MaxCorsAllowMethods, 0, MaxCorsMethodLength)
	list("cors.allowOrigins", c.AllowOrigins, MaxCorsListItems, 1, MaxCorsOriginLength)
	list("cors.exposeHeaders", c.ExposeHeaders, MaxCorsListItems, 0, MaxCorsHeaderLength)
	if v := RangeViolation("cors.maxAge", c.MaxAge, 0, MaxCorsMaxAge); v != nil {
		msgs = append(msgs, urlViolation(&v.Value, v.Member, v.Constraint))
	}
	return msgs
}

// urlViolation renders one failed constraint; a nil value reads "null",
// as the service writes a missing member.
func urlViolation(value *string, member, constraint string) string {
	v := "null"
	if value != nil {
		v = "'" + *value + "'"
	}
	return fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", v, member, constraint)
}

// validationErrors joins rendered violations as ValidationFailed does;
// nil for none.
func validationErrors(msgs []string) error {
	if len(msgs) == 0 {
		return nil
	}
	noun := "errors"
	if len(msgs) == 1 {
		noun = "error"
	}
	return KindValidation.Errorf("%d validation %s detected: %s", len(msgs), noun, strings.Join(msgs, "; "))
}

// Wire errors of the function URL config operations, in the words the
// service uses.

// FunctionURLFunctionNotFound is what Create, Update and List send for an
// unknown function or alias.
func FunctionURLFunctionNotFound() *Error {
	return KindResourceNotFound.Errorf("Function does not exist")
}

// FunctionURLConfigNotFound is what Get, Update and Delete send when there
// is no URL config (Get and Delete also when the function is unknown).
func FunctionURLConfigNotFound() *Error {
	return KindResourceNotFound.Errorf("The resource you requested does not exist.")
}

// FunctionURLConfigExists is Create's refusal of a second config for one
// function ARN (note the service's double space).
func FunctionURLConfigExists(functionARN string) *Error {
	return KindResourceConflict.Errorf("Failed to create function url config for [functionArn = %s]. Error message:  FunctionUrlConfig exists for this Lambda function", functionARN)
}
