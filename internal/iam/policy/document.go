package policy

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
)

// Policy language versions. A document without Version is 2008-10-17, the
// version IAM assumes; only 2012-10-17 expands policy variables.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// StringList is a JSON value that is either one string or an array of strings.
// It marshals back as a single string when it has one element, else as an array.
type StringList []string

// MarshalJSON renders one element as a bare string, as IAM and Lambda do, so
// a statement written with single values reads back unchanged.
func (l StringList) MarshalJSON() ([]byte, error) {
	if len(l) == 1 {
		return marshal(l[0])
	}
	if l == nil {
		return []byte("[]"), nil
	}
	return marshal([]string(l))
}

// UnmarshalJSON accepts a string or an array of strings; null leaves the list
// empty, so it reads as an absent element.
func (l *StringList) UnmarshalJSON(data []byte) error {
	list, err := decodeStrings(data, false)
	if err != nil {
		return err
	}
	*l = list
	return nil
}

// decodeStrings decodes a string or array of strings. With scalars set it
// also takes booleans and numbers, stored as their JSON text: IAM accepts
// {"Bool": {"aws:SecureTransport": true}}, so condition values need it.
func decodeStrings(data []byte, scalars bool) (StringList, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, syntaxError()
	}
	switch data[0] {
	case 'n':
		if string(data) != "null" {
			return nil, syntaxError()
		}
		return nil, nil
	case '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, syntaxError()
		}
		list := make(StringList, 0, len(raw))
		for _, item := range raw {
			s, err := decodeScalar(item, scalars)
			if err != nil {
				return nil, err
			}
			list = append(list, s)
		}
		return list, nil
	default:
		s, err := decodeScalar(data, scalars)
		if err != nil {
			return nil, err
		}
		return StringList{s}, nil
	}
}

func decodeScalar(data []byte, scalars bool) (string, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return "", syntaxError()
		}
		return s, nil
	}
	if !scalars {
		return "", syntaxError()
	}
	switch s := string(data); s {
	case "true", "false":
		return s, nil
	default:
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return "", syntaxError()
		}
		return s, nil
	}
}

// Principal is a statement's Principal: either the wildcard "*" (Wildcard=true, marshals as "*")
// or a map of kinds to values: {"AWS": "arn:..."|"123456789012"|[...], "Service": "s3.amazonaws.com"|[...]}.
// Other kinds (Federated, CanonicalUser) are rejected when unmarshalling:
// Gust has no identity providers, so such a principal could never match and
// accepting it would hide a mistake.
type Principal struct {
	Wildcard bool
	AWS      StringList
	Service  StringList
}

// MarshalJSON renders "*" for the wildcard, else an object with the
// non-empty kinds.
func (p Principal) MarshalJSON() ([]byte, error) {
	if p.Wildcard {
		return []byte(`"*"`), nil
	}
	kinds := struct {
		AWS     StringList `json:"AWS,omitempty"`
		Service StringList `json:"Service,omitempty"`
	}{p.AWS, p.Service}
	return marshal(kinds)
}

// UnmarshalJSON accepts "*" or an object of AWS and Service values.
func (p *Principal) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return syntaxError()
		}
		if s != "*" {
			return malformed("Invalid principal in policy: " + strconv.Quote(s))
		}
		*p = Principal{Wildcard: true}
		return nil
	}
	fields, err := decodeObject(data)
	if err != nil {
		return err
	}
	for _, kind := range slices.Sorted(maps.Keys(fields)) {
		if kind != "AWS" && kind != "Service" {
			return malformed("Invalid principal in policy: " + strconv.Quote(kind))
		}
	}
	var out Principal
	if raw, ok := fields["AWS"]; ok {
		if out.AWS, err = decodeStrings(raw, false); err != nil {
			return err
		}
	}
	if raw, ok := fields["Service"]; ok {
		if out.Service, err = decodeStrings(raw, false); err != nil {
			return err
		}
	}
	*p = out
	return nil
}

// Statement is one element of a policy's Statement list.
type Statement struct {
	Sid         string                           `json:"Sid,omitempty"`
	Effect      string                           `json:"Effect"` // "Allow" | "Deny"
	Principal   *Principal                       `json:"Principal,omitempty"`
	Action      StringList                       `json:"Action,omitempty"`
	NotAction   StringList                       `json:"NotAction,omitempty"`
	Resource    StringList                       `json:"Resource,omitempty"`
	NotResource StringList                       `json:"NotResource,omitempty"`
	Condition   map[string]map[string]StringList `json:"Condition,omitempty"`
}

// UnmarshalJSON decodes a statement strictly: element names are
// case-sensitive and unknown elements (NotPrincipal included) are a syntax
// error, as in IAM, so a misspelt "Condtion" cannot silently widen a grant.
func (s *Statement) UnmarshalJSON(data []byte) error {
	fields, err := members(data, statementElements)
	if err != nil {
		return err
	}
	var out Statement
	// Decode in a fixed order so that a statement with several faults
	// always reports the same one.
	for _, name := range statementElements {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		switch name {
		case "Sid":
			err = decodeString(raw, &out.Sid)
		case "Effect":
			err = decodeString(raw, &out.Effect)
		case "Principal":
			out.Principal = new(Principal)
			err = out.Principal.UnmarshalJSON(raw)
		case "Action":
			out.Action, err = decodeStrings(raw, false)
		case "NotAction":
			out.NotAction, err = decodeStrings(raw, false)
		case "Resource":
			out.Resource, err = decodeStrings(raw, false)
		case "NotResource":
			out.NotResource, err = decodeStrings(raw, false)
		case "Condition":
			out.Condition, err = decodeCondition(raw)
		}
		if err != nil {
			return err
		}
	}
	*s = out
	return nil
}

var statementElements = []string{"Sid", "Effect", "Principal", "Action", "NotAction", "Resource", "NotResource", "Condition"}

// decodeCondition decodes {"Operator": {"key": value|[values]}}.
func decodeCondition(data []byte) (map[string]map[string]StringList, error) {
	operators, err := decodeObject(data)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]StringList, len(operators))
	for op, raw := range operators {
		keys, err := decodeObject(raw)
		if err != nil {
			return nil, err
		}
		block := make(map[string]StringList, len(keys))
		for key, rawValues := range keys {
			if block[key], err = decodeStrings(rawValues, true); err != nil {
				return nil, err
			}
		}
		out[op] = block
	}
	return out, nil
}

// Document is a whole policy.
type Document struct {
	Version   string      `json:"Version"`
	ID        string      `json:"Id,omitempty"`
	Statement []Statement `json:"Statement"` // unmarshal also accepts a single statement object
}

// MarshalJSON omits an empty Version (a document parsed without one) instead
// of writing "Version":"", which IAM would reject.
func (d Document) MarshalJSON() ([]byte, error) {
	type plain struct {
		Version   string      `json:"Version,omitempty"`
		ID        string      `json:"Id,omitempty"`
		Statement []Statement `json:"Statement"`
	}
	statements := d.Statement
	if statements == nil {
		statements = []Statement{}
	}
	return marshal(plain{d.Version, d.ID, statements})
}

// UnmarshalJSON decodes a document strictly (see Statement.UnmarshalJSON)
// and accepts Statement as one object or an array.
func (d *Document) UnmarshalJSON(data []byte) error {
	fields, err := members(data, []string{"Version", "Id", "Statement"})
	if err != nil {
		return err
	}
	var out Document
	if raw, ok := fields["Version"]; ok {
		if err := decodeString(raw, &out.Version); err != nil {
			return err
		}
		// Checked here rather than only in validation: an absent Version
		// is allowed, an empty one is not, and only here can they be told
		// apart.
		if out.Version != Version2012 && out.Version != Version2008 {
			return malformed("Policy document must be version 2012-10-17 or 2008-10-17")
		}
	}
	if raw, ok := fields["Id"]; ok {
		if err := decodeString(raw, &out.ID); err != nil {
			return err
		}
	}
	if raw, ok := fields["Statement"]; ok {
		if out.Statement, err = decodeStatements(raw); err != nil {
			return err
		}
	}
	*d = out
	return nil
}

func decodeStatements(data []byte) ([]Statement, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		var s Statement
		if err := s.UnmarshalJSON(data); err != nil {
			return nil, err
		}
		return []Statement{s}, nil
	}
	if len(data) == 0 || data[0] != '[' {
		return nil, syntaxError()
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, syntaxError()
	}
	out := make([]Statement, len(raw))
	for i, item := range raw {
		if err := out[i].UnmarshalJSON(item); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// JSON returns the document as compact JSON. HTML characters are not
// escaped, so '&' in a condition value reads back as written (json.Marshal
// would write \u0026).
func (d *Document) JSON() []byte {
	out, err := marshal(d)
	if err != nil {
		// Every field is a string, a string list or a map of them, which
		// always encode; reaching here is a bug in this package.
		panic("policy: encode document: " + err.Error())
	}
	return out
}

// marshal is json.Marshal without HTML escaping. The custom marshalers use
// it too: json.Marshal escapes their output again anyway, and JSON() must
// not find escapes already baked in.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeObject decodes a JSON object into its raw members, rejecting any
// other JSON value.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, syntaxError()
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, syntaxError()
	}
	return fields, nil
}

// members decodes a JSON object whose member names must all be in allowed;
// names are case-sensitive, as in IAM.
func members(data []byte, allowed []string) (map[string]json.RawMessage, error) {
	fields, err := decodeObject(data)
	if err != nil {
		return nil, err
	}
	for name := range fields {
		if !slices.Contains(allowed, name) {
			return nil, syntaxError()
		}
	}
	return fields, nil
}

func decodeString(data []byte, dst *string) error {
	s, err := decodeScalar(data, false)
	if err != nil {
		return err
	}
	*dst = s
	return nil
}
