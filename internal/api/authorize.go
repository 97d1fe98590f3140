package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"gust/internal/iam"
	"gust/internal/iam/policy"
	"gust/internal/lambda"
)

// Authorization follows IAM within one account: the admin key (the
// account root) may do anything; any other caller needs an Allow for the
// operation's action on its resource, from its identity policy (a user's,
// or the role's for a function's session credentials) or from the
// function's resource-based policy, and no explicit Deny in either.

// actionOverrides maps operation names whose IAM action is not
// "lambda:<operation>".
var actionOverrides = map[string]string{
	"Invoke":      "lambda:InvokeFunction",
	"InvokeAsync": "lambda:InvokeFunction",
}

// accountWide operations act on no particular resource; IAM evaluates
// them against "*".
var accountWide = map[string]bool{
	"ListFunctions":      true,
	"GetAccountSettings": true,
	// Event source mappings are created and listed account-wide; Get,
	// Update and Delete act on the mapping's own ARN.
	"CreateEventSourceMapping": true,
	"ListEventSourceMappings":  true,
}

// authorize allows or refuses the verified caller's request for operation
// op of service. The caller comes from authenticate; without an IAM store
// (a test API) everything is allowed.
func (a *API) authorize(r *http.Request, body []byte, service, op string) error {
	if a.opts.IAM == nil {
		return nil
	}
	caller := callerFrom(r.Context())
	if caller.IsRoot() || strings.HasPrefix(op, "GustIAM") { // the IAM endpoints admit root only themselves
		return nil
	}
	action, resource, function, qualifier := a.actionAndResource(r, body, service, op)
	req := policy.Request{
		Principal: caller.ARN,
		Action:    action,
		Resource:  resource,
		Context:   map[string]string{"aws:PrincipalAccount": caller.Account, "aws:PrincipalArn": caller.ARN},
	}
	if caller.Kind == iam.PrincipalUser {
		req.Context["aws:username"] = caller.Name
	}
	var resourcePolicy *policy.Document
	if function != "" {
		doc, err := a.resourcePolicyFor(r.Context(), function, qualifier)
		if err != nil {
			return err
		}
		resourcePolicy = doc
	}
	decision := policy.Evaluate(req, a.opts.IAM.Policies(caller), resourcePolicy)
	if decision == policy.Allow {
		return nil
	}
	return accessDenied(caller, action, resource, decision, resourcePolicy)
}

// resourcePolicyFor reads the resource policy that governs a qualifier:
// its own, which for $LATEST and unqualified calls is the function's.
func (a *API) resourcePolicyFor(ctx context.Context, function, qualifier string) (*policy.Document, error) {
	if !lambda.ValidFunctionName(function) {
		return nil, nil
	}
	return a.resourcePolicy(ctx, function, qualifier)
}

// accessDenied is IAM's refusal, worded as AWS words it.
func accessDenied(caller iam.Principal, action, resource string, decision policy.Decision, resourcePolicy *policy.Document) error {
	who := "User: " + caller.ARN
	why := "because no identity-based policy allows the " + action + " action"
	if decision == policy.ExplicitDeny {
		why = "with an explicit deny in an identity-based policy"
		if resourcePolicy != nil && policy.Evaluate(policy.Request{Principal: caller.ARN, Action: action, Resource: resource}, nil, resourcePolicy) == policy.ExplicitDeny {
			why = "with an explicit deny in a resource-based policy"
		}
	}
	return lambda.KindAccessDenied.Errorf("%s is not authorized to perform: %s on resource: %s %s", who, action, resource, why)
}

// actionAndResource names the IAM action and resource ARN of a request,
// and the function and qualifier whose resource policy applies ("" when
// none does).
func (a *API) actionAndResource(r *http.Request, body []byte, service, op string) (action, resource, function, qualifier string) {
	if service == "logs" {
		return a.logsActionAndResource(r, body)
	}
	if service == "events" {
		_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		return "events:" + op, "*", "", ""
	}
	if strings.HasPrefix(op, "Gust") {
		return "gust:" + strings.TrimPrefix(op, "Gust"), "*", "", ""
	}
	action = "lambda:" + op
	if o, ok := actionOverrides[op]; ok {
		action = o
	}
	if accountWide[op] {
		return action, "*", "", ""
	}
	if id := r.PathValue("UUID"); id != "" && strings.HasSuffix(op, "EventSourceMapping") {
		return action, a.id.EventSourceMappingARN(id), "", ""
	}
	label := r.PathValue("name")
	switch {
	case op == "CreateFunction":
		var in struct{ FunctionName string }
		_ = json.Unmarshal(body, &in)
		label = in.FunctionName
	case label == "" && r.PathValue("arn") != "":
		label = r.PathValue("arn") // tagging: the resource is the ARN itself
	}
	ref, err := lambda.ParseFunctionRef(label)
	if err != nil || !a.id.Owns(ref) {
		// The handler refuses the request with its own error; the
		// resource named here only has to be as the caller wrote it.
		return action, label, "", ""
	}
	qualifier = ref.Qualifier
	if qualifier == "" {
		qualifier = r.URL.Query().Get("Qualifier")
	}
	resource = a.id.QualifiedARN(ref.Name, qualifier)
	if qualifier == lambda.LatestVersion {
		resource = a.id.FunctionARN(ref.Name)
	}
	return action, resource, ref.Name, qualifier
}

// logsActionAndResource names a CloudWatch Logs request's action from its
// X-Amz-Target and its resource from the log group it names.
func (a *API) logsActionAndResource(r *http.Request, body []byte) (action, resource, function, qualifier string) {
	_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	action = "logs:" + op
	var in struct {
		LogGroupName       string `json:"logGroupName"`
		LogGroupIdentifier string `json:"logGroupIdentifier"`
	}
	_ = json.Unmarshal(body, &in)
	group := in.LogGroupName
	if group == "" {
		group = in.LogGroupIdentifier
	}
	if group == "" {
		return action, "*", "", ""
	}
	return action, "arn:aws:logs:" + a.id.Region + ":" + a.id.Account + ":log-group:" + group + ":*", "", ""
}
