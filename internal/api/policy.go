package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"gust/internal/iam/policy"
	"gust/internal/lambda"
	"gust/internal/lazyre"
	"gust/internal/store"
)

// The resource-based policy operations: AddPermission, RemovePermission and
// GetPolicy. Each qualifier (a version or an alias) has a policy of its
// own; the unqualified function and $LATEST share one, and Lambda refuses
// to add to it under the name $LATEST. Every policy has its own RevisionId,
// which changes on every change. Checks run in the service's order: model
// constraints (ValidationException), then the function and qualifier,
// then the request's meaning, then the policy itself.

// PolicyStore is the storage behind these operations (store.Store
// documents not-found and idempotence).
type PolicyStore interface {
	GetPolicy(ctx context.Context, name, qualifier string) (*policy.Document, string, error)
	UpdatePolicy(ctx context.Context, name, qualifier string, mutate func(doc *policy.Document, revisionID string) error) (*policy.Document, string, error)
	ListPolicies(ctx context.Context, name string) (map[string]*policy.Document, error)
}

// maxPolicyBytes is Lambda's limit on one resource-based policy (20 KB),
// measured on the policy's JSON text as GetPolicy returns it.
const maxPolicyBytes = 20480

func (a *API) policyRoutes() {
	p := "/2015-03-31/functions/{name}/policy"
	a.handle("POST "+p, a.operation("lambda", "AddPermission", maxControlBody, tooLarge("AddPermission", maxControlBody), a.addPermission))
	a.handle("GET "+p, a.operation("lambda", "GetPolicy", maxControlBody, tooLarge("GetPolicy", maxControlBody), a.getPolicy))
	a.handle("DELETE "+p+"/{sid}", a.operation("lambda", "RemovePermission", maxControlBody, tooLarge("RemovePermission", maxControlBody), a.removePermission))
}

// resourcePolicy returns the resource-based policy of one qualifier of a
// function ("" or "$LATEST" for the function itself, a version or an
// alias), or nil when it has none. It does not check that the function or
// qualifier exists.
func (a *API) resourcePolicy(ctx context.Context, name, qualifier string) (*policy.Document, error) {
	doc, _, err := a.opts.Store.GetPolicy(ctx, name, qualifier)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resource policy: %w", err)
	}
	return doc, nil
}

// Model patterns of the AddPermission and RemovePermission members, as the
// service quotes them in its messages.
const (
	statementIDPattern        = `([a-zA-Z0-9-_]+)`
	removeStatementIDPattern  = `([a-zA-Z0-9-_.]+)`
	actionPattern             = `(lambda:[*]|lambda:[a-zA-Z]+|[*])`
	principalPattern          = `[^\s]+`
	sourceARNPattern          = `arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)`
	sourceAccountPattern      = `\d{12}`
	principalOrgIDPattern     = `o-[a-z0-9]{10,32}`
	eventSourceTokenPattern   = `[a-zA-Z0-9._\-]+`
	maxStatementIDLength      = 100
	maxEventSourceTokenLength = 256
)

// anchored compiles a model pattern to match a whole value, as the
// service applies it.
func anchored(pattern string) *lazyre.Regexp { return lazyre.New(`^(?:` + pattern + `)$`) }

var (
	statementIDRE       = anchored(statementIDPattern)
	removeStatementIDRE = anchored(removeStatementIDPattern)
	actionRE            = anchored(actionPattern)
	principalRE         = anchored(principalPattern)
	sourceARNRE         = anchored(sourceARNPattern)
	sourceAccountRE     = anchored(sourceAccountPattern)
	principalOrgIDRE    = anchored(principalOrgIDPattern)
	eventSourceTokenRE  = anchored(eventSourceTokenPattern)
	accountIDRE         = anchored(`[0-9]{12}`)
	// servicePrincipalRE matches AWS service principals: s3.amazonaws.com,
	// the China partition's .amazonaws.com.cn, and Alexa's
	// alexa-appkit.amazon.com.
	servicePrincipalRE = anchored(`[a-z0-9][a-z0-9.-]*\.(amazonaws\.com(\.cn)?|amazon\.com)`)
)

// violations collects failed model constraints and renders them as the
// service does. Unlike lambda.Violation it can say "Value null" for a
// missing required member.
type violations []string

func (vs *violations) add(value *string, member, constraint string) {
	v := "null"
	if value != nil {
		v = "'" + *value + "'"
	}
	*vs = append(*vs, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", v, member, constraint))
}

// pattern checks an optional member ("" = left out) against a model pattern.
func (vs *violations) pattern(value, member, pattern string, re *lazyre.Regexp) {
	if value != "" && !re.MatchString(value) {
		vs.add(&value, member, "Member must satisfy regular expression pattern: "+pattern)
	}
}

func (vs *violations) maxLength(value, member string, n int) {
	if len(value) > n {
		vs.add(&value, member, fmt.Sprintf("Member must have length less than or equal to %d", n))
	}
}

func (vs violations) err() error {
	if len(vs) == 0 {
		return nil
	}
	noun := "errors"
	if len(vs) == 1 {
		noun = "error"
	}
	return lambda.KindValidation.Errorf("%d validation %s detected: %s", len(vs), noun, strings.Join(vs, "; "))
}

// policyTarget resolves the {name} label (any FunctionName form) and
// ?Qualifier= to a function name and the qualifier named ("" when neither
// names one). ours is false when the reference names another region or
// account.
func (a *API) policyTarget(r *http.Request) (name, qualifier string, ours bool, err error) {
	ref, err := lambda.ParseFunctionRef(r.PathValue("name"))
	if err != nil {
		return "", "", false, err
	}
	q := r.URL.Query().Get("Qualifier")
	if q != "" && !lambda.ValidQualifier(q) {
		return "", "", false, lambda.ValidationFailed(lambda.Violation{Value: q, Member: "qualifier",
			Constraint: "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"})
	}
	if q != "" && ref.Qualifier != "" && q != ref.Qualifier {
		return "", "", false, lambda.QualifierMismatch()
	}
	if ref.Qualifier == "" {
		ref.Qualifier = q
	}
	return ref.Name, ref.Qualifier, a.id.Owns(ref), nil
}

// requirePolicyTarget checks that the function exists (else missing) and
// that the qualifier, if any, names one of its versions or aliases.
func (a *API) requirePolicyTarget(ctx context.Context, name, qualifier string, missing error) error {
	if _, err := a.opts.Store.GetFunction(ctx, name, lambda.LatestVersion); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return missing
		}
		return err
	}
	if qualifier == "" || qualifier == lambda.LatestVersion {
		return nil
	}
	_, err := a.qualifierTarget(ctx, name, qualifier)
	return err
}

// policyStoreError maps what UpdatePolicy returns to the wire; errors
// from the mutate function pass through.
func (a *API) policyStoreError(err error, name, qualifier string, missing error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return missing // the function was deleted meanwhile
	case errors.Is(err, store.ErrConflict):
		return lambda.KindResourceConflict.Errorf("The operation cannot be performed at this time. An update is in progress for resource: %s", a.id.QualifiedARN(name, qualifier))
	}
	return err
}

// addPermissionInput is AddPermission's body. The required members are
// pointers so that a missing one reads as null, as the service says.
type addPermissionInput struct {
	StatementID         *string `json:"StatementId"`
	Action              *string `json:"Action"`
	Principal           *string `json:"Principal"`
	SourceArn           string  `json:"SourceArn"`
	SourceAccount       string  `json:"SourceAccount"`
	EventSourceToken    string  `json:"EventSourceToken"`
	PrincipalOrgID      string  `json:"PrincipalOrgID"`
	FunctionUrlAuthType string  `json:"FunctionUrlAuthType"`
	RevisionID          string  `json:"RevisionId"`
}

// validate checks the model's constraints on every member.
func (in *addPermissionInput) validate() error {
	var vs violations
	switch sid := in.StatementID; {
	case sid == nil:
		vs.add(nil, "statementId", "Member must not be null")
	case *sid == "":
		vs.add(sid, "statementId", "Member must have length greater than or equal to 1")
	default:
		vs.maxLength(*sid, "statementId", maxStatementIDLength)
		vs.pattern(*sid, "statementId", statementIDPattern, statementIDRE)
	}
	if in.Action == nil {
		vs.add(nil, "action", "Member must not be null")
	} else if !actionRE.MatchString(*in.Action) {
		vs.add(in.Action, "action", "Member must satisfy regular expression pattern: "+actionPattern)
	}
	if in.Principal == nil {
		vs.add(nil, "principal", "Member must not be null")
	} else if !principalRE.MatchString(*in.Principal) {
		vs.add(in.Principal, "principal", "Member must satisfy regular expression pattern: "+principalPattern)
	}
	vs.pattern(in.SourceArn, "sourceArn", sourceARNPattern, sourceARNRE)
	vs.maxLength(in.SourceAccount, "sourceAccount", 12)
	vs.pattern(in.SourceAccount, "sourceAccount", sourceAccountPattern, sourceAccountRE)
	vs.maxLength(in.EventSourceToken, "eventSourceToken", maxEventSourceTokenLength)
	vs.pattern(in.EventSourceToken, "eventSourceToken", eventSourceTokenPattern, eventSourceTokenRE)
	if id := in.PrincipalOrgID; id != "" {
		if len(id) < 12 {
			vs.add(&id, "principalOrgID", "Member must have length greater than or equal to 12")
		}
		vs.maxLength(id, "principalOrgID", 34)
		vs.pattern(id, "principalOrgID", principalOrgIDPattern, principalOrgIDRE)
	}
	if t := in.FunctionUrlAuthType; t != "" && t != "NONE" && t != "AWS_IAM" {
		vs.add(&t, "functionUrlAuthType", "Member must satisfy enum value set: [NONE, AWS_IAM]")
	}
	return vs.err()
}

// invalidPrincipal is the service's refusal of a principal it cannot place
// in a policy.
func invalidPrincipal() error {
	return lambda.KindInvalidParameterValue.Errorf("The provided principal was invalid. Please check the principal and try again.")
}

// principalOf renders the Principal member as Lambda writes it into the
// statement: "*", an account id as that account's root ARN, an IAM ARN
// as is, or a service name.
func principalOf(p string) (policy.Principal, error) {
	switch {
	case p == "*":
		return policy.Principal{Wildcard: true}, nil
	case accountIDRE.MatchString(p):
		return policy.Principal{AWS: policy.StringList{"arn:aws:iam::" + p + ":root"}}, nil
	case strings.HasPrefix(p, "arn:"):
		return policy.Principal{AWS: policy.StringList{p}}, nil
	case servicePrincipalRE.MatchString(p):
		return policy.Principal{Service: policy.StringList{p}}, nil
	}
	return policy.Principal{}, invalidPrincipal()
}

// statement builds the policy statement the request grants on resource.
// Conditions are those Lambda derives from the optional members.
func (in *addPermissionInput) statement(resource string, principal policy.Principal) policy.Statement {
	st := policy.Statement{
		Sid:       *in.StatementID,
		Effect:    "Allow",
		Principal: &principal,
		Action:    policy.StringList{*in.Action},
		Resource:  policy.StringList{resource},
	}
	cond := map[string]map[string]policy.StringList{}
	add := func(operator, key, value string) {
		if value == "" {
			return
		}
		if cond[operator] == nil {
			cond[operator] = map[string]policy.StringList{}
		}
		cond[operator][key] = policy.StringList{value}
	}
	add("StringEquals", "lambda:FunctionUrlAuthType", in.FunctionUrlAuthType)
	add("StringEquals", "aws:PrincipalOrgID", in.PrincipalOrgID)
	add("StringEquals", "AWS:SourceAccount", in.SourceAccount)
	add("StringEquals", "lambda:EventSourceToken", in.EventSourceToken)
	add("ArnLike", "AWS:SourceArn", in.SourceArn)
	if len(cond) > 0 {
		st.Condition = cond
	}
	return st
}

// statementJSON is one statement as compact JSON text, HTML characters
// unescaped as in GetPolicy's document.
func statementJSON(st policy.Statement) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(st); err != nil {
		return "", fmt.Errorf("encode statement: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

type addPermissionOutput struct {
	Statement string `json:"Statement"`
}

func (a *API) addPermission(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, qualifier, ours, err := a.policyTarget(r)
	if err != nil {
		return err
	}
	var in addPermissionInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	if err := in.validate(); err != nil {
		return err
	}
	if qualifier == lambda.LatestVersion {
		return lambda.KindInvalidParameterValue.Errorf("We currently do not support adding policies for $LATEST.")
	}
	missing := lambda.FunctionNotFound(a.id.FunctionARN(name))
	if !ours {
		return missing
	}
	ctx := r.Context()
	if err := a.requirePolicyTarget(ctx, name, qualifier, missing); err != nil {
		return err
	}
	principal, err := principalOf(*in.Principal)
	if err != nil {
		return err
	}
	st := in.statement(a.id.QualifiedARN(name, qualifier), principal)
	// The principal is the one member whose form the model does not pin
	// down; a statement the policy language refuses could never be
	// evaluated, so it is refused here rather than stored.
	probe := policy.Document{Version: policy.Version2012, Statement: []policy.Statement{st}}
	if _, err := policy.ParseResource(probe.JSON()); err != nil {
		return invalidPrincipal()
	}
	_, _, err = a.opts.Store.UpdatePolicy(ctx, name, qualifier, func(doc *policy.Document, revisionID string) error {
		if in.RevisionID != "" && in.RevisionID != revisionID {
			return lambda.RevisionMismatch()
		}
		if slices.ContainsFunc(doc.Statement, func(s policy.Statement) bool { return s.Sid == st.Sid }) {
			return lambda.KindResourceConflict.Errorf("The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", st.Sid)
		}
		doc.Statement = append(doc.Statement, st)
		if n := len(doc.JSON()); n > maxPolicyBytes {
			return lambda.KindPolicyLengthExceeded.Errorf("The final policy size (%d) is bigger than the limit (%d).", n, maxPolicyBytes)
		}
		return nil
	})
	if err != nil {
		return a.policyStoreError(err, name, qualifier, missing)
	}
	text, err := statementJSON(st)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, addPermissionOutput{Statement: text})
}

func (a *API) removePermission(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, ours, err := a.policyTarget(r)
	if err != nil {
		return err
	}
	sid := r.PathValue("sid")
	var vs violations
	vs.maxLength(sid, "statementId", maxStatementIDLength)
	vs.pattern(sid, "statementId", removeStatementIDPattern, removeStatementIDRE)
	if err := vs.err(); err != nil {
		return err
	}
	revision := r.URL.Query().Get("RevisionId")
	missing := lambda.KindResourceNotFound.Errorf("No policy found for: %s", a.id.FunctionARN(name))
	if !ours {
		return missing
	}
	ctx := r.Context()
	if err := a.requirePolicyTarget(ctx, name, qualifier, missing); err != nil {
		return err
	}
	_, _, err = a.opts.Store.UpdatePolicy(ctx, name, qualifier, func(doc *policy.Document, revisionID string) error {
		if len(doc.Statement) == 0 {
			return lambda.KindResourceNotFound.Errorf("No policy is associated with the given resource.")
		}
		i := slices.IndexFunc(doc.Statement, func(s policy.Statement) bool { return s.Sid == sid })
		if i < 0 {
			return lambda.KindResourceNotFound.Errorf("Statement %s is not found in resource policy.", sid)
		}
		if revision != "" && revision != revisionID {
			return lambda.RevisionMismatch()
		}
		doc.Statement = slices.Delete(doc.Statement, i, i+1)
		return nil
	})
	if err != nil {
		return a.policyStoreError(err, name, qualifier, missing)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type getPolicyOutput struct {
	Policy     string `json:"Policy"`
	RevisionID string `json:"RevisionId"`
}

func (a *API) getPolicy(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, ours, err := a.policyTarget(r)
	if err != nil {
		return err
	}
	missing := lambda.FunctionNotFound(a.id.FunctionARN(name))
	if !ours {
		return missing
	}
	ctx := r.Context()
	if err := a.requirePolicyTarget(ctx, name, qualifier, missing); err != nil {
		return err
	}
	doc, revisionID, err := a.opts.Store.GetPolicy(ctx, name, qualifier)
	if errors.Is(err, store.ErrNotFound) {
		return lambda.KindResourceNotFound.Errorf("The resource you requested does not exist.")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, getPolicyOutput{Policy: string(doc.JSON()), RevisionID: revisionID})
}
