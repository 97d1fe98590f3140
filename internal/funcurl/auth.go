package funcurl

import (
	"errors"
	"fmt"
	"net/http"

	"gust/internal/iam"
	"gust/internal/iam/policy"
	"gust/internal/lambda"
	"gust/internal/store"
	"gust/internal/urlevent"
)

// invokeAction is the IAM action a function URL request needs.
const invokeAction = "lambda:InvokeFunctionUrl"

var (
	// errDenied is a request the policies do not allow.
	errDenied = errors.New("not allowed " + invokeAction)
	// errPolicyLookup marks a failure to read a resource policy: a
	// platform fault (500), not a refusal.
	errPolicyLookup = errors.New("read resource policy")
)

// authorize decides whether the request may invoke u's function. For an
// AWS_IAM URL it also returns the verified caller, for the event's
// requestContext.authorizer. Any error but errPolicyLookup is a refusal
// (403); the error says why, for the log only.
func (h *Handler) authorize(r *http.Request, body []byte, u *lambda.FunctionURL) (*urlevent.IAMCaller, error) {
	req := policy.Request{
		Action:   invokeAction,
		Resource: h.opts.Identity.QualifiedARN(u.Function, u.Qualifier),
		Context:  map[string]string{"lambda:FunctionUrlAuthType": u.AuthType},
	}
	if u.AuthType == lambda.URLAuthNone {
		// Anyone may call, but only if the resource policy says so: an
		// anonymous caller matches only a "*" principal.
		resourcePolicy, err := h.resourcePolicy(r, u)
		if err != nil {
			return nil, err
		}
		if policy.Evaluate(req, nil, resourcePolicy) != policy.Allow {
			return nil, errDenied
		}
		return nil, nil
	}
	if u.AuthType != lambda.URLAuthIAM {
		return nil, fmt.Errorf("auth type %q", u.AuthType)
	}
	if h.opts.Verifier == nil || h.opts.IAM == nil {
		return nil, errors.New("no verifier for AWS_IAM URLs")
	}
	signed, err := h.opts.Verifier.Verify(r, body)
	if err != nil {
		return nil, err
	}
	if signed.Service != "lambda" || signed.Region != h.opts.Identity.Region {
		return nil, fmt.Errorf("credential scoped to %s in %s", signed.Service, signed.Region)
	}
	caller, _, ok := h.opts.IAM.Resolve(signed.AccessKeyID, signed.SessionToken)
	if !ok { // deleted or expired since Verify looked it up
		return nil, errors.New("unknown access key")
	}
	if !caller.IsRoot() {
		req.Principal = caller.ARN
		req.Context["aws:PrincipalAccount"] = caller.Account
		req.Context["aws:PrincipalArn"] = caller.ARN
		if caller.Kind == iam.PrincipalUser {
			req.Context["aws:username"] = caller.Name
		}
		resourcePolicy, err := h.resourcePolicy(r, u)
		if err != nil {
			return nil, err
		}
		if policy.Evaluate(req, h.opts.IAM.Policies(caller), resourcePolicy) != policy.Allow {
			return nil, fmt.Errorf("%s: %w", caller.ARN, errDenied)
		}
	}
	id := h.callerID(r, caller)
	return &urlevent.IAMCaller{
		AccessKey: signed.AccessKeyID,
		AccountID: caller.Account,
		CallerID:  id,
		UserARN:   caller.ARN,
		UserID:    id,
	}, nil
}

// callerID is the caller's unique id as IAM reports it: the account for
// root, the user's id, or the role's id and the session name. A principal
// deleted since it was resolved is named instead.
func (h *Handler) callerID(r *http.Request, p iam.Principal) string {
	switch p.Kind {
	case iam.PrincipalUser:
		if u, err := h.opts.IAM.GetUser(r.Context(), p.Name); err == nil {
			return u.ID
		}
	case iam.PrincipalAssumedRole:
		if role, err := h.opts.IAM.GetRole(r.Context(), p.Name); err == nil {
			return role.ID + ":" + p.Session
		}
	default:
		return p.Account
	}
	return p.Name
}

// resourcePolicy reads the resource policy that governs u: the alias's
// for an alias's URL, else the function's. nil when there is none.
func (h *Handler) resourcePolicy(r *http.Request, u *lambda.FunctionURL) (*policy.Document, error) {
	doc, _, err := h.opts.Store.GetPolicy(r.Context(), u.Function, u.Qualifier)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errPolicyLookup, err)
	}
	return doc, nil
}
