package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// MaxIdentityPolicyBytes is the largest identity policy ParseIdentity
// accepts: IAM's inline limit for roles (users get 2,048; Gust uses the
// larger one for both). Like IAM, whitespace outside strings is not counted.
const MaxIdentityPolicyBytes = 10240

// MalformedError reports a policy that IAM would reject with
// MalformedPolicyDocument. Message is IAM's wording.
type MalformedError struct {
	Message string
}

func (e *MalformedError) Error() string { return e.Message }

func malformed(message string) *MalformedError { return &MalformedError{Message: message} }

func syntaxError() *MalformedError { return malformed("Syntax errors in policy.") }

// ParseIdentity parses and validates an identity policy (attached to a user or role):
// no Principal allowed; each statement needs Effect, Action|NotAction, Resource|NotResource.
func ParseIdentity(data []byte) (*Document, error) {
	return parse(data, true)
}

// ParseResource parses and validates a resource-based policy: each statement needs a Principal.
func ParseResource(data []byte) (*Document, error) {
	return parse(data, false)
}

func parse(data []byte, identity bool) (*Document, error) {
	if !json.Valid(data) {
		return nil, syntaxError()
	}
	if identity {
		var compact bytes.Buffer
		if err := json.Compact(&compact, data); err != nil {
			return nil, syntaxError()
		}
		if compact.Len() > MaxIdentityPolicyBytes {
			return nil, malformed(fmt.Sprintf("Cannot exceed quota for PolicySize: %d", MaxIdentityPolicyBytes))
		}
	}
	var doc Document
	if err := doc.UnmarshalJSON(data); err != nil {
		return nil, asMalformed(err)
	}
	if err := doc.validate(identity); err != nil {
		return nil, err
	}
	return &doc, nil
}

// asMalformed keeps a *MalformedError and turns anything else into IAM's
// catch-all, so callers only ever see one error type.
func asMalformed(err error) error {
	if m, ok := err.(*MalformedError); ok {
		return m
	}
	return syntaxError()
}

func (d *Document) validate(identity bool) error {
	switch d.Version {
	case "", Version2012, Version2008:
	default:
		return malformed("Policy document must be version 2012-10-17 or 2008-10-17")
	}
	if len(d.Statement) == 0 {
		return malformed("Missing required field Statement")
	}
	sids := make(map[string]bool, len(d.Statement))
	for i := range d.Statement {
		s := &d.Statement[i]
		if s.Sid != "" {
			if sids[s.Sid] {
				return malformed("Statement IDs (SID) in a single policy must be unique.")
			}
			sids[s.Sid] = true
		}
		if err := s.validate(identity); err != nil {
			return err
		}
	}
	return nil
}

func (s *Statement) validate(identity bool) error {
	// IAM restricts Sids of identity policies to letters and digits;
	// resource policies (Lambda's StatementId) also allow '-' and '_'.
	if identity && strings.IndexFunc(s.Sid, func(r rune) bool { return !isAlnum(r) }) >= 0 {
		return malformed("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*")
	}
	switch s.Effect {
	case "Allow", "Deny":
	case "":
		return malformed("Missing required field Effect")
	default:
		return malformed("Invalid effect: " + s.Effect)
	}
	if identity && s.Principal != nil {
		return malformed("Has prohibited field Principal")
	}
	if !identity {
		if s.Principal == nil {
			return malformed("Missing required field Principal")
		}
		if err := s.Principal.validate(); err != nil {
			return err
		}
	}
	if err := validateActions(s.Action, s.NotAction); err != nil {
		return err
	}
	if err := validateResources(s.Resource, s.NotResource); err != nil {
		return err
	}
	return validateCondition(s.Condition)
}

func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z'
}

func validateActions(action, notAction StringList) error {
	if len(action) > 0 && len(notAction) > 0 {
		return syntaxError()
	}
	list := action
	if len(list) == 0 {
		list = notAction
	}
	if len(list) == 0 {
		return malformed("Policy statement must contain actions.")
	}
	for _, a := range list {
		if err := validateVendorName(a); err != nil {
			return err
		}
	}
	return nil
}

// validateVendorName checks an action or condition key: "*" alone, or
// "vendor:name" with exactly one colon.
func validateVendorName(name string) error {
	if name == "*" {
		return nil
	}
	vendor, rest, found := strings.Cut(name, ":")
	if !found || vendor == "" {
		return malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
	}
	if strings.Contains(rest, ":") {
		return malformed("Actions/Condition can contain only one colon.")
	}
	return nil
}

func validateResources(resource, notResource StringList) error {
	if len(resource) > 0 && len(notResource) > 0 {
		return syntaxError()
	}
	list := resource
	if len(list) == 0 {
		list = notResource
	}
	if len(list) == 0 {
		return malformed("Policy statement must contain resources.")
	}
	for _, r := range list {
		if r != "*" && !strings.HasPrefix(r, "arn:") {
			return malformed(fmt.Sprintf("Resource %s must be in ARN format or \"*\".", r))
		}
	}
	return nil
}

func validateCondition(cond map[string]map[string]StringList) error {
	// Sorted, so a condition with several faults always reports the same one.
	for _, op := range slices.Sorted(maps.Keys(cond)) {
		if _, ok := lookupOperator(op); !ok {
			return malformed("Unsupported Condition operator")
		}
		block := cond[op]
		for _, key := range slices.Sorted(maps.Keys(block)) {
			values := block[key]
			if key == "*" {
				return malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
			}
			if err := validateVendorName(key); err != nil {
				return err
			}
			if len(values) == 0 {
				return syntaxError()
			}
		}
	}
	return nil
}

// validate accepts the principals Gust can match: "*", an account ID, or an
// IAM/STS ARN naming an account root, user, role or role session; and any
// non-empty service name.
func (p *Principal) validate() error {
	if p.Wildcard {
		return nil
	}
	if len(p.AWS) == 0 && len(p.Service) == 0 {
		return malformed("Invalid principal in policy")
	}
	for _, v := range p.AWS {
		if !validAWSPrincipal(v) {
			return malformed(`Invalid principal in policy: "AWS":` + strconv.Quote(v))
		}
	}
	for _, v := range p.Service {
		if v == "" || strings.ContainsAny(v, "*?") {
			return malformed(`Invalid principal in policy: "SERVICE":` + strconv.Quote(v))
		}
	}
	return nil
}

func validAWSPrincipal(v string) bool {
	if v == "*" || isAccountID(v) {
		return true
	}
	arn, ok := parseARN(v)
	if !ok || !isAccountID(arn.account) || arn.region != "" {
		return false
	}
	switch {
	case arn.service == "iam":
		return arn.resource == "root" ||
			strings.HasPrefix(arn.resource, "user/") && len(arn.resource) > len("user/") ||
			strings.HasPrefix(arn.resource, "role/") && len(arn.resource) > len("role/")
	case arn.service == "sts":
		return strings.HasPrefix(arn.resource, "assumed-role/") && strings.Count(arn.resource, "/") >= 2
	}
	return false
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// arn is the six colon-separated fields of an ARN; resource keeps any
// further colons.
type arn struct {
	partition, service, region, account, resource string
}

func parseARN(s string) (arn, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return arn{}, false
	}
	return arn{parts[1], parts[2], parts[3], parts[4], parts[5]}, true
}
