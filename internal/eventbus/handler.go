package eventbus

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

const (
	targetPrefix = "AWSEvents."
	contentType  = "application/x-amz-json-1.1"
	maxBodyBytes = 1 << 20
)

// operation handles one API operation: it decodes its input from body and
// returns a value to encode as the JSON response, or an error.
type operation func(b *Bus, ctx context.Context, body []byte) (any, error)

// operations is the route table, by X-Amz-Target operation name.
var operations = map[string]operation{
	"PutRule":           (*Bus).putRule,
	"DescribeRule":      (*Bus).describeRule,
	"ListRules":         (*Bus).listRules,
	"DeleteRule":        (*Bus).deleteRule,
	"EnableRule":        (*Bus).enableRule,
	"DisableRule":       (*Bus).disableRule,
	"PutTargets":        (*Bus).putTargets,
	"RemoveTargets":     (*Bus).removeTargets,
	"ListTargetsByRule": (*Bus).listTargetsByRule,
	"PutEvents":         (*Bus).putEvents,
	"CreateEventBus":    (*Bus).createEventBus,
	"DescribeEventBus":  (*Bus).describeEventBus,
	"DeleteEventBus":    (*Bus).deleteEventBus,
	"ListEventBuses":    (*Bus).listEventBuses,
}

// Handler serves the EventBridge JSON 1.1 API: POST /, Content-Type
// application/x-amz-json-1.1, X-Amz-Target: AWSEvents.<Operation>.
// Authentication is done by the caller before this handler runs.
func (b *Bus) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := uuid.NewString()
		w.Header().Set("X-Amzn-RequestId", reqID)
		v, err := b.serve(r)
		if err != nil {
			b.writeError(w, r, reqID, err)
			return
		}
		out, err := json.Marshal(v)
		if err != nil {
			b.writeError(w, r, reqID, err)
			return
		}
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(out)
	})
}

func (b *Bus) serve(r *http.Request) (any, error) {
	name, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	op := operations[name]
	if !ok || op == nil || r.Method != http.MethodPost {
		return nil, kindUnknownOperation.Errorf("Unknown operation %q.", r.Header.Get("X-Amz-Target"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		return nil, kindSerialization.Errorf("Cannot read request body.")
	}
	return op(b, r.Context(), body)
}

func (b *Bus) writeError(w http.ResponseWriter, r *http.Request, reqID string, err error) {
	e, known := asWireError(err)
	if !known {
		b.log.Error("events API request failed", "request_id", reqID, "target", r.Header.Get("X-Amz-Target"), "err", err)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	out, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	_, _ = w.Write(out)
}

// decodeInput parses a JSON 1.1 request body into v; an empty body is {}.
func decodeInput(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return kindSerialization.Errorf("Unexpected value for field %q.", te.Field)
		}
		return kindSerialization.Errorf("Malformed JSON request body.")
	}
	return nil
}

// empty is the answer of operations that return nothing.
type empty struct{}

// page returns the page of items (sorted by name) that follows token, at
// most limit (1-100, default 100) long, and the token of the next page
// ("" on the last). A token is the last name of its page.
func page[T any](items []T, name func(T) string, token string, limit *int32) ([]T, string, error) {
	n := 100
	if limit != nil {
		if *limit < 1 || *limit > 100 {
			return nil, "", kindValidation.Errorf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100", *limit)
		}
		n = int(*limit)
	}
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		after, ok := strings.CutPrefix(string(raw), "n:")
		if err != nil || !ok {
			return nil, "", kindValidation.Errorf(msgBadNextToken)
		}
		i := 0
		for i < len(items) && name(items[i]) <= after {
			i++
		}
		items = items[i:]
	}
	if len(items) <= n {
		return items, "", nil
	}
	items = items[:n]
	return items, base64.RawURLEncoding.EncodeToString([]byte("n:" + name(items[n-1]))), nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
