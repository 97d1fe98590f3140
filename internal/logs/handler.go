package logs

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

const (
	targetPrefix = "Logs_20140328."
	contentType  = "application/x-amz-json-1.1"
	maxBodyBytes = 1 << 20
)

// operation handles one API operation: it decodes its input from body and
// returns a value to encode as the JSON response, or an error.
type operation func(s *Store, body []byte) (any, error)

// operations is the route table, by X-Amz-Target operation name.
var operations = map[string]operation{
	"DescribeLogGroups":     (*Store).describeLogGroups,
	"DescribeLogStreams":    (*Store).describeLogStreams,
	"GetLogEvents":          (*Store).getLogEvents,
	"FilterLogEvents":       (*Store).filterLogEvents,
	"DeleteLogGroup":        (*Store).deleteLogGroup,
	"PutRetentionPolicy":    (*Store).putRetentionPolicy,
	"DeleteRetentionPolicy": (*Store).deleteRetentionPolicy,
}

// Handler serves the CloudWatch Logs JSON 1.1 API: POST /, Content-Type
// application/x-amz-json-1.1, X-Amz-Target: Logs_20140328.<Operation>.
// Authentication is done by the caller before this handler runs.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := uuid.NewString()
		w.Header().Set("X-Amzn-RequestId", reqID)
		v, err := s.serve(r)
		if err != nil {
			s.writeError(w, r, reqID, err)
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			s.writeError(w, r, reqID, err)
			return
		}
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(b)
	})
}

func (s *Store) serve(r *http.Request) (any, error) {
	name, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	op := operations[name]
	if !ok || op == nil || r.Method != http.MethodPost {
		return nil, kindUnknownOperation.errorf("Unknown operation %q.", r.Header.Get("X-Amz-Target"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		return nil, kindSerialization.errorf("Cannot read request body.")
	}
	return op(s, body)
}

func (s *Store) writeError(w http.ResponseWriter, r *http.Request, reqID string, err error) {
	e, known := asWireError(err)
	if !known {
		s.log.Error("logs API request failed", "request_id", reqID, "target", r.Header.Get("X-Amz-Target"), "err", err)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-ErrorType", e.kind.code)
	w.WriteHeader(e.kind.status)
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.kind.code, e.Message})
	_, _ = w.Write(b)
}

// decodeInput parses a JSON 1.1 request body into v; an empty body is {}.
func decodeInput(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return kindSerialization.errorf("Unexpected value for field %q.", te.Field)
		}
		return kindSerialization.errorf("Malformed JSON request body.")
	}
	return nil
}

// groupName resolves logGroupName / logGroupIdentifier (a name or an ARN,
// with or without the trailing :*); exactly one must be given.
func groupName(name, identifier *string) (string, error) {
	switch {
	case name != nil && identifier != nil:
		return "", kindInvalidParameter.errorf("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name != nil:
		return *name, nil
	case identifier != nil:
		id := *identifier
		if !strings.HasPrefix(id, "arn:") {
			return id, nil
		}
		_, after, ok := strings.Cut(id, ":log-group:")
		if !ok || after == "" {
			return "", kindInvalidParameter.errorf("Invalid log group identifier %q.", id)
		}
		return strings.TrimSuffix(after, ":*"), nil
	}
	return "", kindInvalidParameter.errorf("Either logGroupName or logGroupIdentifier must be specified.")
}

// limitParam validates an optional limit in [1, max], defaulting to def.
func limitParam(limit *int, def, maxLimit int) (int, error) {
	if limit == nil {
		return def, nil
	}
	if *limit < 1 || *limit > maxLimit {
		return 0, kindInvalidParameter.errorf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", *limit, maxLimit)
	}
	return *limit, nil
}

func (s *Store) groupARN(name string) string {
	return "arn:aws:logs:" + s.opts.Region + ":" + s.opts.Account + ":log-group:" + name
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// encodeNameToken makes an opaque page token continuing after name.
func encodeNameToken(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("n:" + name))
}

func decodeNameToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	name, ok := strings.CutPrefix(string(b), "n:")
	if err != nil || !ok {
		return "", errBadToken
	}
	return name, nil
}
