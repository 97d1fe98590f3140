package envpool

import (
	"strings"
	"testing"
	"time"
)

func TestReportLine(t *testing.T) {
	tests := []struct {
		name string
		o    Outcome
		want string
	}{
		{"warm", Outcome{Duration: 1840 * time.Microsecond, MaxMemoryMB: 40},
			"REPORT RequestId: r\tDuration: 1.84 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t"},
		{"cold bills init too", Outcome{Duration: 1049630 * time.Microsecond, InitDuration: 1293830 * time.Microsecond, MaxMemoryMB: 90},
			"REPORT RequestId: r\tDuration: 1049.63 ms\tBilled Duration: 2344 ms\tMemory Size: 128 MB\tMax Memory Used: 90 MB\tInit Duration: 1293.83 ms\t"},
		{"sub-millisecond bills 1 ms", Outcome{Duration: 200 * time.Microsecond},
			"REPORT RequestId: r\tDuration: 0.20 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 1 MB\t"},
		{"timeout", Outcome{Duration: time.Second, ErrorType: "Sandbox.Timedout", MaxMemoryMB: 50},
			"REPORT RequestId: r\tDuration: 1000.00 ms\tBilled Duration: 1000 ms\tMemory Size: 128 MB\tMax Memory Used: 50 MB\tStatus: timeout"},
		{"crash", Outcome{Duration: 5 * time.Millisecond, ErrorType: "Runtime.ExitError", MaxMemoryMB: 50},
			"REPORT RequestId: r\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 128 MB\tMax Memory Used: 50 MB\tStatus: error\tError Type: Runtime.ExitError"},
	}
	for _, tt := range tests {
		if got := reportLine("r", 128, tt.o); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestTailKeepsTheLast4KB(t *testing.T) {
	var tb tailBuffer
	for i := range 1000 {
		tb.add(strings.Repeat("x", 30) + string(rune('a'+i%26)))
	}
	tb.add("END")
	got := tb.bytes()
	if len(got) != tailLimit {
		t.Fatalf("tail is %d bytes, want %d", len(got), tailLimit)
	}
	if !strings.HasSuffix(string(got), "END\n") {
		t.Fatalf("tail does not end with the last line: %q", got[len(got)-20:])
	}
}

func TestStreamName(t *testing.T) {
	at := time.Date(2024, 1, 15, 23, 59, 0, 0, time.UTC)
	a, b := newStreamName("$LATEST", at), newStreamName("$LATEST", at)
	if !strings.HasPrefix(a, "2024/01/15/[$LATEST]") || len(a) != len("2024/01/15/[$LATEST]")+32 {
		t.Fatalf("stream name %q", a)
	}
	if a == b {
		t.Fatalf("two environments got one stream name %q", a)
	}
}
