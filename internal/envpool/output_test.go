package envpool

import (
	"strings"
	"testing"
	"time"
)

func TestLineSplitter(t *testing.T) {
	long := strings.Repeat("a", maxLineBytes-1) + "é" + "tail" // é straddles the cap
	tests := []struct {
		name   string
		chunks []string
		want   []string
	}{
		{"whole lines", []string{"a\nb\n"}, []string{"a", "b"}},
		{"split across reads", []string{"he", "llo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"no final newline", []string{"x\ny"}, []string{"x", "y"}},
		{"empty lines kept", []string{"\n\n"}, []string{"", ""}},
		{"over the cap in one read", []string{long + "\n"}, []string{strings.Repeat("a", maxLineBytes-1), "étail"}},
		{"over the cap across reads", []string{long[:1000], long[1000:], "\nnext\n"}, []string{strings.Repeat("a", maxLineBytes-1), "étail", "next"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var l lineSplitter
			emit := func(b []byte) { got = append(got, string(b)) }
			for _, c := range tt.chunks {
				l.feed([]byte(c), emit)
			}
			l.flush(emit)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d lines, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d: got %.40q… (%d bytes), want %.40q… (%d bytes)", i, got[i], len(got[i]), tt.want[i], len(tt.want[i]))
				}
			}
		})
	}
}

// recorder is a LogWriter that keeps what it is given.
type recorder struct{ lines []string }

func (r *recorder) WriteLog(_, _ string, _ time.Time, line string) { r.lines = append(r.lines, line) }

func TestMultiLineMessagesKeepTheirNewlines(t *testing.T) {
	r := &recorder{}
	o := newOutput(nil, r, "g", "s")
	o.beginTail()
	o.line(time.Now(), []byte("2024-01-01T00:00:00.000Z\tid\tINFO\tfirst\rsecond\r"))
	want := "2024-01-01T00:00:00.000Z\tid\tINFO\tfirst\nsecond"
	if len(r.lines) != 1 || r.lines[0] != want {
		t.Fatalf("stored %q, want one event %q", r.lines, want)
	}
	if got := string(o.endTail()); got != want+"\n" {
		t.Fatalf("tail %q", got)
	}
}
