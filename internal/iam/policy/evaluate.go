package policy

import (
	"strconv"
	"strings"
)

// Request is what a policy is evaluated against.
type Request struct {
	Principal string            // ARN of the caller: arn:aws:iam::ACCT:root, arn:aws:iam::ACCT:user/NAME, arn:aws:sts::ACCT:assumed-role/ROLE/SESSION
	Service   string            // for AWS service principals, e.g. "s3.amazonaws.com" ("" for IAM principals)
	Action    string            // e.g. "lambda:InvokeFunction"
	Resource  string            // e.g. arn:aws:lambda:us-east-1:000000000000:function:f:prod
	Context   map[string]string // condition keys, e.g. "aws:SourceArn", "aws:SourceAccount", "aws:PrincipalOrgID", "aws:username", "lambda:FunctionUrlAuthType"
}

// Decision is the outcome of Evaluate.
type Decision int

const (
	ImplicitDeny Decision = iota // no statement allows the request
	Allow                        // some statement allows it and none denies it
	ExplicitDeny                 // a Deny statement matches; nothing can override it
)

func (d Decision) String() string {
	switch d {
	case ImplicitDeny:
		return "ImplicitDeny"
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "Decision(" + strconv.Itoa(int(d)) + ")"
}

// Evaluate applies IAM's logic within one account: an explicit Deny in any policy wins; otherwise an
// Allow in any identity policy or in the resource policy (whose statement's Principal matches the
// request) allows; otherwise implicit deny. resource may be nil.
//
// Resource-policy statements without a Principal are skipped: ParseResource
// never produces one, and a hand-built statement missing it must not apply
// to every caller. Nil documents are skipped.
func Evaluate(req Request, identity []*Document, resource *Document) Decision {
	allowed := false
	// scan records an Allow and reports whether an explicit Deny matched;
	// a Deny ends evaluation because nothing can override it.
	scan := func(doc *Document, needPrincipal bool) (denied bool) {
		variables := doc.Version == Version2012
		for i := range doc.Statement {
			s := &doc.Statement[i]
			if needPrincipal && s.Principal == nil || !s.matches(&req, variables) {
				continue
			}
			switch s.Effect {
			case "Deny":
				return true
			case "Allow":
				allowed = true
			}
		}
		return false
	}
	for _, doc := range identity {
		if doc != nil && scan(doc, false) {
			return ExplicitDeny
		}
	}
	if resource != nil && scan(resource, true) {
		return ExplicitDeny
	}
	if allowed {
		return Allow
	}
	return ImplicitDeny
}

// Matches reports whether one statement applies to req (principal — only when the statement has one —, action, resource, conditions).
// The statement's Effect is not consulted. Policy variables are expanded
// as in a 2012-10-17 document, the version every statement Gust writes uses.
func (s *Statement) Matches(req Request) bool {
	return s.matches(&req, true)
}

func (s *Statement) matches(req *Request, variables bool) bool {
	if s.Principal != nil && !s.Principal.matches(req) {
		return false
	}
	return s.matchesAction(req.Action) &&
		s.matchesResource(req, variables) &&
		conditionMatches(s.Condition, req, variables)
}

// matchesAction: Action matches when any pattern matches, case-insensitively
// ("lambda:invoke*" covers "lambda:InvokeFunction"); NotAction matches when
// none does. A statement with neither matches nothing.
func (s *Statement) matchesAction(action string) bool {
	switch {
	case len(s.Action) > 0:
		return anyMatch(s.Action, action)
	case len(s.NotAction) > 0:
		return !anyMatch(s.NotAction, action)
	}
	return false
}

func anyMatch(patterns StringList, action string) bool {
	for _, p := range patterns {
		if Match(p, action, true) {
			return true
		}
	}
	return false
}

// matchesResource: Resource is a case-sensitive glob over the whole ARN,
// '*' crossing ':' — so ":function:f" does not match the qualified
// ":function:f:prod" while ":function:f*" and ":function:f:*" do, which is
// how Lambda policies tell qualified invokes apart. NotResource matches
// when no pattern does. A pattern with an unresolvable policy variable
// makes the statement not apply, for NotResource too.
func (s *Statement) matchesResource(req *Request, variables bool) bool {
	patterns, negated := s.Resource, false
	if len(patterns) == 0 {
		patterns, negated = s.NotResource, true
	}
	if len(patterns) == 0 {
		return false
	}
	for _, p := range patterns {
		tokens, ok := expand(p, req.Context, variables)
		if !ok {
			return false
		}
		if matchTokens(tokens, req.Resource, false) {
			return !negated
		}
	}
	return negated
}

// matches applies the Principal rules of resource policies:
//   - "*" and {"AWS":"*"} (which IAM treats as the same) match every caller,
//     including service principals and anonymous callers (function URLs
//     with AuthType NONE);
//   - {"AWS":"123456789012"} and {"AWS":"arn:aws:iam::123456789012:root"}
//     match every IAM principal of that account;
//   - a user ARN matches that user exactly;
//   - a role ARN arn:aws:iam::A:role/PATH/R matches the role itself and its
//     sessions arn:aws:sts::A:assumed-role/R/SESSION (sessions drop the path);
//   - {"Service":"s3.amazonaws.com"} matches requests whose Service equals
//     it, ignoring case.
//
// A Service principal never matches an IAM caller and vice versa.
func (p *Principal) matches(req *Request) bool {
	if p.Wildcard {
		return true
	}
	for _, v := range p.AWS {
		if v == "*" {
			return true
		}
	}
	if req.Service != "" {
		for _, v := range p.Service {
			if strings.EqualFold(v, req.Service) {
				return true
			}
		}
		return false
	}
	if req.Principal == "" {
		return false
	}
	for _, v := range p.AWS {
		if awsPrincipalMatches(v, req.Principal) {
			return true
		}
	}
	return false
}

func awsPrincipalMatches(principal, caller string) bool {
	if principal == caller {
		return true
	}
	callerARN, ok := parseARN(caller)
	if !ok {
		return false
	}
	if isAccountID(principal) {
		return callerARN.account == principal
	}
	p, ok := parseARN(principal)
	if !ok || p.service != "iam" || p.partition != callerARN.partition || p.account != callerARN.account {
		return false
	}
	if p.resource == "root" {
		return true
	}
	roleName, isRole := strings.CutPrefix(p.resource, "role/")
	if !isRole || callerARN.service != "sts" {
		return false
	}
	if i := strings.LastIndexByte(roleName, '/'); i >= 0 {
		roleName = roleName[i+1:]
	}
	session, ok := strings.CutPrefix(callerARN.resource, "assumed-role/"+roleName+"/")
	return ok && session != "" && !strings.Contains(session, "/")
}
