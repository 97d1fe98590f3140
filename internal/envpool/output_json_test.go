package envpool

import (
	"encoding/json"
	"testing"
	"time"

	"gust/internal/lambda"
)

func TestPlatformLinesInJSONMode(t *testing.T) {
	o := Outcome{Duration: 1500 * time.Microsecond, InitDuration: 120 * time.Millisecond, MaxMemoryMB: 40}
	lines := []string{
		"START RequestId: r1 Version: $LATEST",
		"END RequestId: r1",
		formatReport("r1", 256, o, 123),
		"INIT_REPORT Init Duration: 12.50 ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError",
		"REPORT RequestId: r2\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 1 MB\tStatus: error\tError Type: Runtime.ExitError",
	}
	tests := []struct {
		level string
		want  []string // record types, in order
	}{
		{"", []string{"platform.start", "platform.report", "platform.initReport", "platform.report"}},
		{"INFO", []string{"platform.start", "platform.report", "platform.initReport", "platform.report"}},
		{"DEBUG", []string{"platform.start", "platform.runtimeDone", "platform.report", "platform.initReport", "platform.report"}},
		{"WARN", nil},
	}
	for _, tt := range tests {
		t.Run("level="+tt.level, func(t *testing.T) {
			r := &recorder{}
			out := newFunctionOutput(nil, r, lambda.LoggingConfig{LogFormat: lambda.LogFormatJSON, SystemLogLevel: tt.level, LogGroup: "g"}, "s")
			out.beginTail()
			for _, l := range lines {
				out.platform(l)
			}
			tail := out.endTail()
			if len(r.lines) != len(tt.want) {
				t.Fatalf("got %d records %q, want types %q", len(r.lines), r.lines, tt.want)
			}
			var tailWant []byte
			for i, line := range r.lines {
				tailWant = append(tailWant, line+"\n"...)
				var rec struct {
					Time   string         `json:"time"`
					Type   string         `json:"type"`
					Record map[string]any `json:"record"`
				}
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("record %d %q: %v", i, line, err)
				}
				if rec.Type != tt.want[i] {
					t.Errorf("record %d type %q, want %q", i, rec.Type, tt.want[i])
				}
				if _, err := time.Parse("2006-01-02T15:04:05.000Z", rec.Time); err != nil {
					t.Errorf("record %d time %q: %v", i, rec.Time, err)
				}
			}
			if string(tail) != string(tailWant) {
				t.Errorf("tail %q, want %q", tail, tailWant)
			}
		})
	}
}

func TestReportRecordFields(t *testing.T) {
	r := &recorder{}
	out := newFunctionOutput(nil, r, lambda.LoggingConfig{LogFormat: lambda.LogFormatJSON}, "s")
	o := Outcome{Duration: 1500 * time.Microsecond, InitDuration: 120250 * time.Microsecond, MaxMemoryMB: 40, ErrorType: "Sandbox.Timedout"}
	out.platform(formatReport("r1", 256, o, 123))
	if len(r.lines) != 1 {
		t.Fatalf("got %q", r.lines)
	}
	var got struct {
		Record struct {
			RequestID string             `json:"requestId"`
			Metrics   map[string]float64 `json:"metrics"`
			Status    string             `json:"status"`
		} `json:"record"`
	}
	if err := json.Unmarshal([]byte(r.lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"durationMs": 1.5, "billedDurationMs": 123, "memorySizeMB": 256, "maxMemoryUsedMB": 40, "initDurationMs": 120.25}
	if got.Record.RequestID != "r1" || got.Record.Status != "timeout" {
		t.Errorf("requestId %q status %q, want r1 timeout", got.Record.RequestID, got.Record.Status)
	}
	for k, v := range want {
		if got.Record.Metrics[k] != v {
			t.Errorf("metrics.%s = %v, want %v (all: %v)", k, got.Record.Metrics[k], v, got.Record.Metrics)
		}
	}
}

func TestTextModeKeepsPlatformLines(t *testing.T) {
	r := &recorder{}
	out := newFunctionOutput(nil, r, lambda.LoggingConfig{LogFormat: lambda.LogFormatText, SystemLogLevel: "WARN"}, "s")
	in := []string{"START RequestId: r1 Version: 3", "END RequestId: r1", "REPORT RequestId: r1\tDuration: 1.00 ms\t"}
	for _, l := range in {
		out.platform(l)
	}
	if len(r.lines) != len(in) {
		t.Fatalf("got %q, want %q", r.lines, in)
	}
	for i := range in {
		if r.lines[i] != in[i] {
			t.Errorf("line %d: got %q, want %q", i, r.lines[i], in[i])
		}
	}
}
