package urlevent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
)

// ErrInvalidResponse marks a function output that a function URL cannot
// turn into an HTTP response: not JSON, or a structured response whose
// fields have the wrong types. Function URLs answer such output with 502.
var ErrInvalidResponse = errors.New("invalid function URL response")

// response is a function output resolved into what goes on the wire.
type response struct {
	status  int
	headers map[string]string
	cookies []string
	body    []byte
}

// WriteResponse writes a function's output to w as a function URL would.
//
// A JSON object with a "statusCode" key is a structured response; any other
// valid JSON is sent verbatim with status 200 and Content-Type
// application/json. A structured response without a Content-Type gets
// application/json too.
//
// The payload is checked completely before anything is written. If it is
// unusable, WriteResponse returns an error wrapping ErrInvalidResponse and
// has not touched w, so the caller can still answer 502. Any other error
// comes from writing the body, after the status line has gone out.
// Headers already set on w (such as X-Amzn-RequestId) are kept.
func WriteResponse(w http.ResponseWriter, payload []byte) error {
	resp, err := parseResponse(payload)
	if err != nil {
		return err
	}
	h := w.Header()
	for _, name := range slices.Sorted(maps.Keys(resp.headers)) {
		h.Add(name, resp.headers[name])
	}
	for _, c := range resp.cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	// The function cannot know how the body is framed on this connection.
	h.Del("Transfer-Encoding")
	h.Del("Connection")
	if bodyAllowed(resp.status) {
		h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	} else {
		h.Del("Content-Length")
	}
	w.WriteHeader(resp.status)
	if !bodyAllowed(resp.status) || len(resp.body) == 0 {
		return nil
	}
	if _, err := w.Write(resp.body); err != nil && !errors.Is(err, http.ErrBodyNotAllowed) {
		return fmt.Errorf("write function URL response body: %w", err)
	}
	return nil
}

// parseResponse resolves a function's output without writing anything.
func parseResponse(payload []byte) (response, error) {
	if !json.Valid(payload) {
		return response{}, fmt.Errorf("%w: output is not valid JSON", ErrInvalidResponse)
	}
	if trimmed := bytes.TrimSpace(payload); trimmed[0] == '{' {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &fields); err != nil {
			return response{}, fmt.Errorf("%w: %w", ErrInvalidResponse, err)
		}
		if _, structured := fields["statusCode"]; structured {
			return parseStructured(fields)
		}
	}
	return response{
		status:  http.StatusOK,
		headers: map[string]string{"Content-Type": "application/json"},
		body:    payload,
	}, nil
}

func parseStructured(fields map[string]json.RawMessage) (response, error) {
	var resp response
	status, err := parseStatusCode(fields["statusCode"])
	if err != nil {
		return response{}, err
	}
	resp.status = status
	if resp.headers, err = parseHeaders(fields["headers"]); err != nil {
		return response{}, err
	}
	if resp.cookies, err = parseCookies(fields["cookies"]); err != nil {
		return response{}, err
	}

	var body string
	if raw, ok := fields["body"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &body); err != nil {
			return response{}, fmt.Errorf("%w: body must be a string", ErrInvalidResponse)
		}
	}
	var encoded bool
	if raw, ok := fields["isBase64Encoded"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &encoded); err != nil {
			return response{}, fmt.Errorf("%w: isBase64Encoded must be a boolean", ErrInvalidResponse)
		}
	}
	resp.body = []byte(body)
	if encoded {
		if resp.body, err = base64.StdEncoding.DecodeString(body); err != nil {
			return response{}, fmt.Errorf("%w: body is not valid base64: %w", ErrInvalidResponse, err)
		}
	}
	return resp, nil
}

// parseStatusCode accepts a JSON integer that can be a final HTTP status.
func parseStatusCode(raw json.RawMessage) (int, error) {
	var status int
	if isNull(raw) || json.Unmarshal(raw, &status) != nil {
		return 0, fmt.Errorf("%w: statusCode %s is not an integer", ErrInvalidResponse, raw)
	}
	// 1xx cannot end an exchange, and net/http panics outside 100-999.
	if status < 200 || status > 599 {
		return 0, fmt.Errorf("%w: statusCode %d is out of range", ErrInvalidResponse, status)
	}
	return status, nil
}

// parseHeaders reads the headers object. Payload 2.0 values are strings
// (multiple values already comma-joined); numbers and booleans are taken as
// their JSON text and null values are skipped, since hand-written handlers
// often return them. Names and values that could split the header block
// are refused.
func parseHeaders(raw json.RawMessage) (map[string]string, error) {
	if raw == nil || isNull(raw) {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("%w: headers must be an object", ErrInvalidResponse)
	}
	headers := make(map[string]string, len(fields))
	for name, value := range fields {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("%w: header name %q is not valid", ErrInvalidResponse, name)
		}
		text, ok, err := headerValue(value)
		if err != nil {
			return nil, fmt.Errorf("%w: header %s: %w", ErrInvalidResponse, name, err)
		}
		if ok {
			headers[name] = text
		}
	}
	return headers, nil
}

func headerValue(raw json.RawMessage) (string, bool, error) {
	switch trimmed := bytes.TrimSpace(raw); {
	case isNull(trimmed):
		return "", false, nil
	case trimmed[0] == '"':
		var s string
		if err := json.Unmarshal(trimmed, &s); err != nil {
			return "", false, err
		}
		if !validHeaderValue(s) {
			return "", false, errors.New("value contains control characters")
		}
		return s, true, nil
	case trimmed[0] == '{' || trimmed[0] == '[':
		return "", false, errors.New("value must be a string")
	default: // number, true or false
		return string(trimmed), true, nil
	}
}

func parseCookies(raw json.RawMessage) ([]string, error) {
	if raw == nil || isNull(raw) {
		return nil, nil
	}
	var cookies []*string
	if err := json.Unmarshal(raw, &cookies); err != nil {
		return nil, fmt.Errorf("%w: cookies must be an array of strings", ErrInvalidResponse)
	}
	out := make([]string, 0, len(cookies))
	for _, c := range cookies {
		if c == nil {
			continue
		}
		if !validHeaderValue(*c) {
			return nil, fmt.Errorf("%w: cookie %q contains control characters", ErrInvalidResponse, *c)
		}
		out = append(out, *c)
	}
	return out, nil
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// bodyAllowed reports whether a response with this status may carry a body.
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := range len(name) {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters other than tab, which could
// end the header line early.
func validHeaderValue(v string) bool {
	for i := range len(v) {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
