package tracing

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Header is a parsed X-Ray trace header,
// Root=1-<8 hex time>-<24 hex>;Parent=<16 hex>;Sampled=0|1[;Lineage=…].
// Fields other than Root, Parent and Sampled (Lineage, Self, …) are kept
// in order and written back unchanged.
type Header struct {
	Root    string // "1-5bef4de7-ad49b0e87f6ef6c87fc2e700"
	Parent  string // 16 hex digits; "" if absent
	Sampled string // "1", "0", "?" (decision requested) or "" (absent)
	Extra   []string
}

// ParseHeader reads an X-Amzn-Trace-Id value. ok is false unless it holds
// a well-formed Root; a malformed Parent is dropped.
func ParseHeader(s string) (h Header, ok bool) {
	for field := range strings.SplitSeq(s, ";") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		k, v, _ := strings.Cut(field, "=")
		switch k {
		case "Root":
			h.Root = v
		case "Parent":
			if isHex(v, 16) {
				h.Parent = v
			}
		case "Sampled":
			h.Sampled = v
		default:
			h.Extra = append(h.Extra, field)
		}
	}
	if !validRoot(h.Root) {
		return Header{}, false
	}
	return h, true
}

// String renders the header in X-Ray's field order.
func (h Header) String() string {
	var b strings.Builder
	b.WriteString("Root=" + h.Root)
	if h.Parent != "" {
		b.WriteString(";Parent=" + h.Parent)
	}
	if h.Sampled != "" {
		b.WriteString(";Sampled=" + h.Sampled)
	}
	for _, f := range h.Extra {
		b.WriteString(";" + f)
	}
	return b.String()
}

// IsSampled reports whether the header carries Sampled=1.
func (h Header) IsSampled() bool { return h.Sampled == "1" }

// TraceID is the OpenTelemetry trace id of the header's Root: its time
// and random parts, 32 hex digits. It is invalid (zero) for a bad Root.
func (h Header) TraceID() trace.TraceID {
	var id trace.TraceID
	if !validRoot(h.Root) {
		return id
	}
	_, _ = hex.Decode(id[:], []byte(h.Root[2:10]+h.Root[11:]))
	return id
}

// ParentSpanID is the OpenTelemetry span id of the header's Parent; ok is
// false when there is none.
func (h Header) ParentSpanID() (id trace.SpanID, ok bool) {
	if !isHex(h.Parent, 16) {
		return id, false
	}
	_, _ = hex.Decode(id[:], []byte(h.Parent))
	return id, true
}

// NewRoot is a fresh X-Ray Root: version 1, the epoch seconds of now in
// 8 hex digits, then 96 random bits.
func NewRoot(now time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("1-%08x-%s", uint32(now.Unix()), hex.EncodeToString(b[:]))
}

// NewSpanID is a fresh, non-zero 16-hex-digit X-Ray segment id (an
// OpenTelemetry span id).
func NewSpanID() string {
	var b [8]byte
	for b == [8]byte{} {
		_, _ = rand.Read(b[:])
	}
	return hex.EncodeToString(b[:])
}

// ForInvocation is the header an invocation runs under, given the header
// it arrived with (possibly "") and whether the function's TracingConfig
// is Active. As Lambda does, the runtime always gets a header: a missing
// or malformed one is replaced by a new Root, sampled when Active and not
// otherwise; a header without a sampling decision is decided the same
// way; an upstream decision is kept. Parent becomes segment, the id of
// this invocation's own segment (its root span). caller is the Parent it
// arrived with, "" if none, for a span link to the calling invocation.
func ForInvocation(incoming string, active bool, segment string) (h Header, caller string) {
	h, ok := ParseHeader(incoming)
	if !ok {
		h = Header{Root: NewRoot(time.Now())}
	}
	caller = h.Parent
	if h.Sampled != "0" && h.Sampled != "1" {
		h.Sampled = "0"
		if active {
			h.Sampled = "1"
		}
	}
	h.Parent = segment
	return h, caller
}

// XRayLine is the line Lambda writes after REPORT when it traced an
// invocation (TracingConfig Active, Sampled=1); "" when it writes none.
// SegmentId is the Parent the runtime was given.
func XRayLine(header string, active bool) string {
	h, ok := ParseHeader(header)
	if !active || !ok || !h.IsSampled() || h.Parent == "" {
		return ""
	}
	return "XRAY TraceId: " + h.Root + "\tSegmentId: " + h.Parent + "\tSampled: true"
}

// validRoot checks 1-<8 hex>-<24 hex>.
func validRoot(r string) bool {
	return len(r) == 35 && r[0] == '1' && r[1] == '-' && r[10] == '-' &&
		isHex(r[2:10], 8) && isHex(r[11:], 24)
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}
