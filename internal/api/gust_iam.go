package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"gust/internal/iam"
	"gust/internal/lambda"
)

// Gust's own endpoints for IAM users and roles, used by `gust iam`. AWS
// manages these through the IAM API, which Gust does not serve; these
// endpoints are signed like the Lambda API, answer in Lambda's JSON and
// error shapes, and only the account root (the admin key) may call them.
//
//	POST   /_gust/v1/iam/users                      {"UserName"} → 201 {"User","AccessKey"}
//	GET    /_gust/v1/iam/users                      → {"Users"}
//	GET    /_gust/v1/iam/users/{name}               → {"User"}
//	DELETE /_gust/v1/iam/users/{name}               → 204
//	PUT    /_gust/v1/iam/users/{name}/policy        body: the policy document (empty = remove) → 204
//	DELETE /_gust/v1/iam/users/{name}/policy        → 204
//	POST   /_gust/v1/iam/users/{name}/rotate-key    → {"AccessKey"}; the old keys stop working
//	POST   /_gust/v1/iam/roles                      {"RoleName","PolicyDocument"?} → 201 {"Role"}
//	GET    /_gust/v1/iam/roles                      → {"Roles"}
//	GET    /_gust/v1/iam/roles/{name}               → {"Role"}
//	DELETE /_gust/v1/iam/roles/{name}               → 204
//	PUT    /_gust/v1/iam/roles/{name}/policy        body: the policy document (empty = remove) → 204
//	DELETE /_gust/v1/iam/roles/{name}/policy        → 204
//
// PolicyDocument in a create request is the document's JSON text as a
// string, as in IAM's API, or the document itself as a JSON object.

func (a *API) iamRoutes() {
	const users, roles = "/_gust/v1/iam/users", "/_gust/v1/iam/roles"
	route := func(pattern, name, action string, resource func(*http.Request) string, h handlerFunc) {
		a.handle(pattern, a.operation("lambda", name, maxControlBody, tooLarge(name, maxControlBody), a.rootOnly(action, resource, h)))
	}
	route("POST "+users, "GustIAMCreateUser", "iam:CreateUser", a.userResource, a.createUser)
	route("GET "+users, "GustIAMListUsers", "iam:ListUsers", a.userResource, a.listUsers)
	route("GET "+users+"/{name}", "GustIAMGetUser", "iam:GetUser", a.userResource, a.getUser)
	route("DELETE "+users+"/{name}", "GustIAMDeleteUser", "iam:DeleteUser", a.userResource, a.deleteUser)
	route("PUT "+users+"/{name}/policy", "GustIAMPutUserPolicy", "iam:PutUserPolicy", a.userResource, a.putUserPolicy)
	route("DELETE "+users+"/{name}/policy", "GustIAMDeleteUserPolicy", "iam:DeleteUserPolicy", a.userResource, a.putUserPolicy)
	route("POST "+users+"/{name}/rotate-key", "GustIAMRotateAccessKey", "iam:CreateAccessKey", a.userResource, a.rotateAccessKey)
	route("POST "+roles, "GustIAMCreateRole", "iam:CreateRole", a.roleResource, a.createRole)
	route("GET "+roles, "GustIAMListRoles", "iam:ListRoles", a.roleResource, a.listRoles)
	route("GET "+roles+"/{name}", "GustIAMGetRole", "iam:GetRole", a.roleResource, a.getRole)
	route("DELETE "+roles+"/{name}", "GustIAMDeleteRole", "iam:DeleteRole", a.roleResource, a.deleteRole)
	route("PUT "+roles+"/{name}/policy", "GustIAMPutRolePolicy", "iam:PutRolePolicy", a.roleResource, a.putRolePolicy)
	route("DELETE "+roles+"/{name}/policy", "GustIAMDeleteRolePolicy", "iam:DeleteRolePolicy", a.roleResource, a.putRolePolicy)
}

// rootOnly lets only the account root through to h; anyone else gets
// AccessDeniedException naming the IAM action and resource, as IAM words it.
func (a *API) rootOnly(action string, resource func(*http.Request) string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, body []byte) error {
		caller := callerFrom(r.Context())
		if !caller.IsRoot() {
			who := caller.ARN
			if who == "" {
				who = "anonymous"
			}
			return lambda.KindAccessDenied.Errorf("User: %s is not authorized to perform: %s on resource: %s", who, action, resource(r))
		}
		if a.opts.IAM == nil {
			return lambda.KindServiceUnavailable.Errorf("IAM is not available on this server.")
		}
		return h(w, r, body)
	}
}

// userResource is the ARN an action on the request's user is about: the
// user named in the path, or the user path itself (list, create).
func (a *API) userResource(r *http.Request) string {
	return "arn:aws:iam::" + a.id.Account + ":user/" + r.PathValue("name")
}

func (a *API) roleResource(r *http.Request) string {
	return "arn:aws:iam::" + a.id.Account + ":role/" + r.PathValue("name")
}

// iamError maps the IAM store's errors to wire errors.
func iamError(err error) error {
	var e *iam.Error
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case errors.Is(err, iam.ErrNotFound):
		return lambda.KindResourceNotFound.Errorf("%s", e.Message)
	case errors.Is(err, iam.ErrExists):
		return lambda.KindResourceConflict.Errorf("%s", e.Message)
	default:
		return lambda.KindInvalidParameterValue.Errorf("%s", e.Message)
	}
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in struct{ UserName string }
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	u, key, err := a.opts.IAM.CreateUser(r.Context(), in.UserName)
	if err != nil {
		return iamError(err)
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"User": u, "AccessKey": key})
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, _ []byte) error {
	users, err := a.opts.IAM.ListUsers(r.Context())
	if err != nil {
		return iamError(err)
	}
	if users == nil {
		users = []iam.User{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Users": users})
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, _ []byte) error {
	u, err := a.opts.IAM.GetUser(r.Context(), r.PathValue("name"))
	if err != nil {
		return iamError(err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"User": u})
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, _ []byte) error {
	if err := a.opts.IAM.DeleteUser(r.Context(), r.PathValue("name")); err != nil {
		return iamError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// putUserPolicy serves PUT (body = the document) and DELETE (no body).
func (a *API) putUserPolicy(w http.ResponseWriter, r *http.Request, body []byte) error {
	if r.Method == http.MethodDelete {
		body = nil
	}
	if err := a.opts.IAM.PutUserPolicy(r.Context(), r.PathValue("name"), body); err != nil {
		return iamError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) rotateAccessKey(w http.ResponseWriter, r *http.Request, _ []byte) error {
	key, err := a.opts.IAM.RotateKey(r.Context(), r.PathValue("name"))
	if err != nil {
		return iamError(err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"AccessKey": key})
}

func (a *API) createRole(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in struct {
		RoleName       string
		PolicyDocument json.RawMessage
	}
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	doc, err := policyText(in.PolicyDocument)
	if err != nil {
		return err
	}
	role, err := a.opts.IAM.CreateRole(r.Context(), in.RoleName, doc)
	if err != nil {
		return iamError(err)
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"Role": role})
}

// policyText accepts a policy document given as a JSON string holding
// its text (IAM's form) or as the JSON object itself; null or absent is
// no document.
func policyText(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '"' {
		return raw, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, lambda.KindInvalidRequestContent.Errorf("Could not parse PolicyDocument: %v", err)
	}
	return []byte(s), nil
}

func (a *API) listRoles(w http.ResponseWriter, r *http.Request, _ []byte) error {
	roles, err := a.opts.IAM.ListRoles(r.Context())
	if err != nil {
		return iamError(err)
	}
	if roles == nil {
		roles = []iam.Role{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Roles": roles})
}

func (a *API) getRole(w http.ResponseWriter, r *http.Request, _ []byte) error {
	role, err := a.opts.IAM.GetRole(r.Context(), r.PathValue("name"))
	if err != nil {
		return iamError(err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Role": role})
}

func (a *API) deleteRole(w http.ResponseWriter, r *http.Request, _ []byte) error {
	if err := a.opts.IAM.DeleteRole(r.Context(), r.PathValue("name")); err != nil {
		return iamError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// putRolePolicy serves PUT (body = the document) and DELETE (no body).
func (a *API) putRolePolicy(w http.ResponseWriter, r *http.Request, body []byte) error {
	if r.Method == http.MethodDelete {
		body = nil
	}
	if err := a.opts.IAM.PutRolePolicy(r.Context(), r.PathValue("name"), body); err != nil {
		return iamError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
