package iam

import "gust/internal/iam/policy"

// PrincipalKind says what kind of caller a Principal is. The zero value is
// no principal at all, so an unset Principal is never mistaken for root.
type PrincipalKind int

const (
	PrincipalRoot        PrincipalKind = iota + 1 // the account root: the admin key
	PrincipalUser                                 // an IAM user's long-term key
	PrincipalAssumedRole                          // a role session's temporary credentials
)

func (k PrincipalKind) String() string {
	switch k {
	case PrincipalRoot:
		return "Root"
	case PrincipalUser:
		return "User"
	case PrincipalAssumedRole:
		return "AssumedRole"
	default:
		return "None"
	}
}

// Principal is who signed a request.
type Principal struct {
	Kind    PrincipalKind
	Name    string // the user or role name; "" for root
	Session string // the role session name (AssumedRole only)
	// ARN is arn:aws:iam::<account>:root, arn:aws:iam::<account>:user/<name>
	// or arn:aws:sts::<account>:assumed-role/<role>/<session>.
	ARN     string
	Account string
}

// IsRoot reports whether p is the account root, whom every action is
// allowed.
func (p Principal) IsRoot() bool { return p.Kind == PrincipalRoot }

// Resolve returns the principal and secret key of an access key id and
// the session token sent with it ("" for long-term keys), from memory
// only. ok is false for an unknown key, for a long-term key sent with a
// token, and for a session token that is forged, expired, issued for
// another key, or of a role that no longer exists.
func (s *Store) Resolve(accessKeyID, sessionToken string) (p Principal, secret string, ok bool) {
	if sessionToken != "" {
		return s.resolveSession(accessKeyID, sessionToken)
	}
	if accessKeyID == s.admin.ID {
		return Principal{Kind: PrincipalRoot, ARN: "arn:aws:iam::" + s.account + ":root", Account: s.account}, s.admin.Secret, true
	}
	s.mu.RLock()
	e := s.keys[accessKeyID]
	s.mu.RUnlock()
	if e == nil {
		return Principal{}, "", false
	}
	for _, k := range e.rec.Keys {
		if k.ID == accessKeyID {
			secret = k.Secret
		}
	}
	return Principal{Kind: PrincipalUser, Name: e.rec.Name, ARN: s.userARN(e.rec.Name), Account: s.account}, secret, true
}

// Policies returns the identity policies of p from memory: a user's or a
// role's inline policy. It returns nil for root, whom callers treat as
// allowed everything, and for a principal without policies, whom the
// evaluation denies everything.
func (s *Store) Policies(p Principal) []*policy.Document {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var doc *policy.Document
	switch p.Kind {
	case PrincipalUser:
		if e := s.users[keyToken(p.Name)]; e != nil {
			doc = e.doc
		}
	case PrincipalAssumedRole:
		if e := s.roles[keyToken(p.Name)]; e != nil {
			doc = e.doc
		}
	}
	if doc == nil {
		return nil
	}
	return []*policy.Document{doc}
}
