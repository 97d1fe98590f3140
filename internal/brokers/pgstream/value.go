package pgstream

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Value is a DynamoDB attribute value, the typed form a column's value
// takes in Keys, NewImage and OldImage: exactly one of S, N, B, BOOL,
// NULL, M or L, named by Type.
type Value struct {
	Type string // "S", "N", "B", "BOOL", "NULL", "M" or "L"
	Str  string // S, and N as its decimal text
	Bool bool
	Bin  []byte
	Map  map[string]Value
	List []Value
}

// Image is a row as attribute values by column name.
type Image map[string]Value

// MarshalJSON renders v as DynamoDB does: {"S":"x"}, {"N":"1"},
// {"B":"<base64>"}, {"BOOL":true}, {"NULL":true}, {"M":{…}}, {"L":[…]}.
func (v Value) MarshalJSON() ([]byte, error) {
	var inner any
	switch v.Type {
	case "S", "N":
		inner = v.Str
	case "B":
		inner = base64.StdEncoding.EncodeToString(v.Bin)
	case "BOOL":
		inner = v.Bool
	case "NULL":
		inner = true
	case "M":
		m := v.Map
		if m == nil {
			m = map[string]Value{}
		}
		inner = m
	case "L":
		l := v.List
		if l == nil {
			l = []Value{}
		}
		inner = l
	default:
		return nil, fmt.Errorf("attribute value of unknown type %q", v.Type)
	}
	return json.Marshal(map[string]any{v.Type: inner})
}

// PostgreSQL type OIDs the conversion knows (pg_type.oid, fixed across
// versions for built-in types).
const (
	oidBool    = 16
	oidBytea   = 17
	oidInt8    = 20
	oidInt2    = 21
	oidInt4    = 23
	oidOID     = 26
	oidJSON    = 114
	oidFloat4  = 700
	oidFloat8  = 701
	oidNumeric = 1700
	oidJSONB   = 3802
)

// arrayElem maps built-in array types to their element types. An array of
// a type not listed here arrives as its text, an S.
var arrayElem = map[uint32]uint32{
	1000: oidBool, 1001: oidBytea, 1005: oidInt2, 1007: oidInt4, 1016: oidInt8, 1028: oidOID,
	1021: oidFloat4, 1022: oidFloat8, 1231: oidNumeric, 199: oidJSON, 3807: oidJSONB,
	1009: 25, 1015: 1043, 1014: 1042, 1002: 18, 1003: 19, 2951: 2950,
	1182: 1082, 1115: 1114, 1185: 1184, 1183: 1083, 1187: 1186, 1041: 869, 651: 650,
}

// convert turns a column's value, in PostgreSQL's text output format, into
// an attribute value by the column's type: numbers are N (as text), bool
// BOOL, bytea B, json and jsonb their JSON structure (M, L, S, N, BOOL,
// NULL), arrays L, everything else S. A value that its type's rule cannot
// read (NaN and infinities are no DynamoDB number) falls back to S.
func convert(typ uint32, text string) Value {
	if elem, ok := arrayElem[typ]; ok {
		if v, err := convertArray(elem, text); err == nil {
			return v
		}
		return Value{Type: "S", Str: text}
	}
	switch typ {
	case oidInt2, oidInt4, oidInt8, oidOID, oidFloat4, oidFloat8, oidNumeric:
		if isDecimal(text) {
			return Value{Type: "N", Str: text}
		}
	case oidBool:
		return Value{Type: "BOOL", Bool: text == "t"}
	case oidBytea:
		if b, ok := decodeBytea(text); ok {
			return Value{Type: "B", Bin: b}
		}
	case oidJSON, oidJSONB:
		if v, err := convertJSON(text); err == nil {
			return v
		}
	}
	return Value{Type: "S", Str: text}
}

// isDecimal reports whether s is a finite number as PostgreSQL prints one
// (digits, an optional sign, point and exponent), not NaN or Infinity.
func isDecimal(s string) bool {
	digits := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = true
		case c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E':
		default:
			return false
		}
	}
	return digits
}

// decodeBytea reads bytea's hex output format ("\x0a1b…"), the default
// since PostgreSQL 9.0.
func decodeBytea(text string) ([]byte, bool) {
	h, ok := strings.CutPrefix(text, `\x`)
	if !ok {
		return nil, false
	}
	b, err := hex.DecodeString(h)
	return b, err == nil
}

// convertJSON maps a JSON document onto attribute values: objects M,
// arrays L, strings S, numbers N, booleans BOOL and null NULL.
func convertJSON(text string) (Value, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return Value{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Value{}, errors.New("trailing data after the JSON document")
	}
	return jsonValue(doc), nil
}

func jsonValue(doc any) Value {
	switch d := doc.(type) {
	case nil:
		return Value{Type: "NULL"}
	case bool:
		return Value{Type: "BOOL", Bool: d}
	case json.Number:
		return Value{Type: "N", Str: d.String()}
	case string:
		return Value{Type: "S", Str: d}
	case []any:
		l := make([]Value, len(d))
		for i, e := range d {
			l[i] = jsonValue(e)
		}
		return Value{Type: "L", List: l}
	case map[string]any:
		m := make(map[string]Value, len(d))
		for k, e := range d {
			m[k] = jsonValue(e)
		}
		return Value{Type: "M", Map: m}
	}
	return Value{Type: "S", Str: fmt.Sprint(doc)}
}

// convertArray reads an array literal ("{1,2,NULL}", "{{a,b},{c,d}}",
// elements quoted when they need it) into an L of its elements, nested
// for more dimensions.
func convertArray(elem uint32, text string) (Value, error) {
	if strings.HasPrefix(text, "[") { // explicit bounds: "[0:1]={…}"
		_, rest, ok := strings.Cut(text, "=")
		if !ok {
			return Value{}, errors.New("array bounds without a value")
		}
		text = rest
	}
	p := arrayParser{src: text, elem: elem}
	v, err := p.list()
	if err != nil {
		return Value{}, err
	}
	if p.pos != len(p.src) {
		return Value{}, errors.New("trailing data after the array")
	}
	return v, nil
}

// arrayParser reads PostgreSQL's array output format.
type arrayParser struct {
	src  string
	pos  int
	elem uint32
}

func (p *arrayParser) list() (Value, error) {
	if p.pos >= len(p.src) || p.src[p.pos] != '{' {
		return Value{}, errors.New("array does not start with {")
	}
	p.pos++
	out := Value{Type: "L", List: []Value{}}
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return out, nil
	}
	for {
		v, err := p.element()
		if err != nil {
			return Value{}, err
		}
		out.List = append(out.List, v)
		if p.pos >= len(p.src) {
			return Value{}, errors.New("unterminated array")
		}
		c := p.src[p.pos]
		p.pos++
		switch c {
		case ',':
		case '}':
			return out, nil
		default:
			return Value{}, fmt.Errorf("unexpected %q in array", c)
		}
	}
}

func (p *arrayParser) element() (Value, error) {
	if p.pos >= len(p.src) {
		return Value{}, errors.New("unterminated array")
	}
	switch p.src[p.pos] {
	case '{':
		return p.list()
	case '"':
		s, err := p.quoted()
		if err != nil {
			return Value{}, err
		}
		return convert(p.elem, s), nil
	}
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] != ',' && p.src[p.pos] != '}' {
		p.pos++
	}
	s := p.src[start:p.pos]
	if s == "NULL" {
		return Value{Type: "NULL"}, nil
	}
	return convert(p.elem, s), nil
}

// quoted reads a double-quoted element, undoing backslash escapes.
func (p *arrayParser) quoted() (string, error) {
	p.pos++ // the opening quote
	var b bytes.Buffer
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		p.pos++
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if p.pos >= len(p.src) {
				return "", errors.New("unterminated escape in array")
			}
			b.WriteByte(p.src[p.pos])
			p.pos++
		default:
			b.WriteByte(c)
		}
	}
	return "", errors.New("unterminated quoted array element")
}
