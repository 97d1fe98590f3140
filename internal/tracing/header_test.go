package tracing

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	root   = "1-5bef4de7-ad49b0e87f6ef6c87fc2e700"
	parent = "9a9197af755a6419"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		in     string
		want   Header
		wantOK bool
	}{
		{"Root=" + root + ";Parent=" + parent + ";Sampled=1", Header{Root: root, Parent: parent, Sampled: "1"}, true},
		{"Root=" + root, Header{Root: root}, true},
		{" Root=" + root + "; Sampled=? ;Lineage=1:abcd0123:2", Header{Root: root, Sampled: "?", Extra: []string{"Lineage=1:abcd0123:2"}}, true},
		{"Root=" + root + ";Parent=nothex;Sampled=0", Header{Root: root, Sampled: "0"}, true},
		{"Self=1-5bef4de7-000000000000000000000001;Root=" + root, Header{Root: root, Extra: []string{"Self=1-5bef4de7-000000000000000000000001"}}, true},
		{"", Header{}, false},
		{"Parent=" + parent + ";Sampled=1", Header{}, false},
		{"Root=2-5bef4de7-ad49b0e87f6ef6c87fc2e700", Header{}, false},
		{"Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e70", Header{}, false},
		{"Root=1-5bef4de7xad49b0e87f6ef6c87fc2e700", Header{}, false},
		{"Root=1-5bef4deg-ad49b0e87f6ef6c87fc2e700", Header{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseHeader(tt.in)
		if ok != tt.wantOK {
			t.Errorf("ParseHeader(%q) ok = %v, want %v", tt.in, ok, tt.wantOK)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseHeader(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestHeaderStringRoundTrip(t *testing.T) {
	in := "Root=" + root + ";Parent=" + parent + ";Sampled=1;Lineage=1:abcd0123:3"
	h, ok := ParseHeader(in)
	if !ok {
		t.Fatalf("ParseHeader(%q) failed", in)
	}
	if got := h.String(); got != in {
		t.Errorf("String() = %q, want %q", got, in)
	}
}

func TestHeaderIDs(t *testing.T) {
	h := Header{Root: root, Parent: parent}
	if got, want := h.TraceID().String(), "5bef4de7ad49b0e87f6ef6c87fc2e700"; got != want {
		t.Errorf("TraceID() = %s, want %s", got, want)
	}
	sid, ok := h.ParentSpanID()
	if !ok || sid.String() != parent {
		t.Errorf("ParentSpanID() = %s, %v; want %s, true", sid, ok, parent)
	}
	if _, ok := (Header{Root: root}).ParentSpanID(); ok {
		t.Error("ParentSpanID() of a header without Parent reported one")
	}
	if (Header{Root: "bad"}).TraceID().IsValid() {
		t.Error("TraceID() of a bad Root is valid")
	}
}

func TestNewRootAndSpanID(t *testing.T) {
	now := time.Unix(0x5bef4de7, 0)
	r := NewRoot(now)
	if !validRoot(r) || !strings.HasPrefix(r, "1-5bef4de7-") {
		t.Errorf("NewRoot = %q, want 1-5bef4de7-<24 hex>", r)
	}
	if NewRoot(now) == r {
		t.Error("two NewRoot calls gave the same Root")
	}
	if s := NewSpanID(); !isHex(s, 16) || s == "0000000000000000" {
		t.Errorf("NewSpanID = %q, want 16 non-zero hex digits", s)
	}
}

func TestForInvocation(t *testing.T) {
	const seg = "0123456789abcdef"
	tests := []struct {
		name        string
		incoming    string
		active      bool
		wantRoot    string // "" = a new one
		wantSampled string
		wantCaller  string
		wantExtra   []string
	}{
		{"active, no header: sampled", "", true, "", "1", "", nil},
		{"pass-through, no header: still a header, unsampled", "", false, "", "0", "", nil},
		{"malformed header: replaced", "Root=garbage;Sampled=1", false, "", "0", "", nil},
		{"upstream decision kept (active)", "Root=" + root + ";Parent=" + parent + ";Sampled=0", true, root, "0", parent, nil},
		{"upstream decision kept (pass-through)", "Root=" + root + ";Parent=" + parent + ";Sampled=1", false, root, "1", parent, nil},
		{"no decision, active: sampled", "Root=" + root + ";Sampled=?", true, root, "1", "", nil},
		{"no decision, pass-through: unsampled", "Root=" + root, false, root, "0", "", nil},
		{"lineage kept", "Root=" + root + ";Parent=" + parent + ";Sampled=1;Lineage=1:abcd0123:2", true, root, "1", parent, []string{"Lineage=1:abcd0123:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, caller := ForInvocation(tt.incoming, tt.active, seg)
			if tt.wantRoot != "" && h.Root != tt.wantRoot {
				t.Errorf("Root = %q, want %q", h.Root, tt.wantRoot)
			}
			if !validRoot(h.Root) {
				t.Errorf("Root = %q is not a valid X-Ray root", h.Root)
			}
			if h.Parent != seg {
				t.Errorf("Parent = %q, want the segment %q", h.Parent, seg)
			}
			if h.Sampled != tt.wantSampled {
				t.Errorf("Sampled = %q, want %q", h.Sampled, tt.wantSampled)
			}
			if caller != tt.wantCaller {
				t.Errorf("caller = %q, want %q", caller, tt.wantCaller)
			}
			if diff := cmp.Diff(tt.wantExtra, h.Extra); diff != "" {
				t.Errorf("Extra (-want +got):\n%s", diff)
			}
		})
	}
}

func TestXRayLine(t *testing.T) {
	sampled := "Root=" + root + ";Parent=" + parent + ";Sampled=1"
	want := "XRAY TraceId: " + root + "\tSegmentId: " + parent + "\tSampled: true"
	if got := XRayLine(sampled, true); got != want {
		t.Errorf("XRayLine(active, sampled) = %q, want %q", got, want)
	}
	for _, tt := range []struct {
		header string
		active bool
	}{
		{sampled, false},
		{"Root=" + root + ";Parent=" + parent + ";Sampled=0", true},
		{"Root=" + root + ";Sampled=1", true},
		{"", true},
	} {
		if got := XRayLine(tt.header, tt.active); got != "" {
			t.Errorf("XRayLine(%q, %v) = %q, want none", tt.header, tt.active, got)
		}
	}
}

func TestTracesURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"},
		{"http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/traces"},
		{"https://otel.example/prefix", "https://otel.example/prefix/v1/traces"},
		{"http://127.0.0.1:4318/v1/traces", "http://127.0.0.1:4318/v1/traces"},
	}
	for _, tt := range tests {
		got, err := tracesURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("tracesURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:4318", "ftp://x", "http://"} {
		if _, err := tracesURL(bad); err == nil {
			t.Errorf("tracesURL(%q) accepted", bad)
		}
	}
}

func TestNilTracerRecordsNothing(t *testing.T) {
	var tr *Tracer
	inv := tr.StartInvocation(t.Context(), InvocationInfo{Function: "f"})
	if inv != nil {
		t.Fatal("a nil Tracer returned an Invocation")
	}
	now := time.Now()
	inv.Acquired(now, now, time.Millisecond, "")
	inv.Invoked(now, now, "")
	inv.End(true, "")
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown of a nil Tracer: %v", err)
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add("Root=" + root + ";Parent=" + parent + ";Sampled=1;Lineage=1:abcd0123:2")
	f.Add("Root=;;=;Parent")
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := ParseHeader(s)
		if !ok {
			return
		}
		again, ok := ParseHeader(h.String())
		if !ok || again.Root != h.Root || again.Parent != h.Parent || again.Sampled != h.Sampled {
			t.Errorf("%q → %q does not parse back to the same header", s, h.String())
		}
		if !h.TraceID().IsValid() && h.Root[2:] != "00000000-000000000000000000000000" {
			t.Errorf("valid Root %q gave an invalid trace id", h.Root)
		}
	})
}
