package server_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/gusttest"
)

// This file checks Lambda's advanced logging controls in JSON mode: every
// line of the log is a JSON record, platform records are filtered by
// SystemLogLevel and application records by ApplicationLogLevel.

const nodeLevels = `export const handler = async () => {
  console.trace("at trace");
  console.debug("at debug");
  console.info("at info");
  console.warn("at warn");
  console.error("at error");
  return "ok";
};
`

const pythonLevels = `import logging
log = logging.getLogger()

def handle(event, context):
    log.debug("at debug")
    log.info("at info")
    log.warning("at warn")
    log.error("at error")
    return "ok"
`

// logLine is one decoded line: a platform record or an application record.
type logLine struct {
	Time      string          `json:"time"`
	Type      string          `json:"type"`
	Record    json.RawMessage `json:"record"`
	Timestamp string          `json:"timestamp"`
	Level     string          `json:"level"`
	Message   string          `json:"message"`
	RequestID string          `json:"requestId"`
}

type reportRecord struct {
	RequestID string `json:"requestId"`
	Metrics   struct {
		DurationMs       *float64 `json:"durationMs"`
		BilledDurationMs *int64   `json:"billedDurationMs"`
		MemorySizeMB     *int64   `json:"memorySizeMB"`
		MaxMemoryUsedMB  *int64   `json:"maxMemoryUsedMB"`
		InitDurationMs   *float64 `json:"initDurationMs"`
	} `json:"metrics"`
	Status string `json:"status"`
}

// decodeLog decodes every line of a log tail as JSON.
func decodeLog(t *testing.T, log string) []logLine {
	t.Helper()
	var out []logLine
	for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		var l logLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q is not JSON: %v\nlog:\n%s", line, err, log)
		}
		out = append(out, l)
	}
	return out
}

// summary names each line: the platform record type, or app:<LEVEL>:<message>.
func summary(lines []logLine) []string {
	var out []string
	for _, l := range lines {
		if l.Type != "" {
			out = append(out, l.Type)
		} else {
			out = append(out, "app:"+l.Level+":"+l.Message)
		}
	}
	return out
}

func withLogging(format types.LogFormat, app types.ApplicationLogLevel, sys types.SystemLogLevel, group string) func(*lambda.CreateFunctionInput) {
	return func(in *lambda.CreateFunctionInput) {
		in.LoggingConfig = &types.LoggingConfig{LogFormat: format, ApplicationLogLevel: app, SystemLogLevel: sys}
		if group != "" {
			in.LoggingConfig.LogGroup = aws.String(group)
		}
	}
}

func TestJSONLogFormat(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	nodeZip := gusttest.Zip(t, map[string]string{"index.mjs": nodeLevels})
	pyZip := gusttest.Zip(t, map[string]string{"levels.py": pythonLevels})
	tests := []struct {
		name    string
		runtime types.Runtime
		handler string
		zip     []byte
		app     types.ApplicationLogLevel
		sys     types.SystemLogLevel
		want    []string
	}{
		{"node-warn-info", types.RuntimeNodejs20x, "index.handler", nodeZip, types.ApplicationLogLevelWarn, types.SystemLogLevelInfo,
			[]string{"platform.start", "app:WARN:at warn", "app:ERROR:at error", "platform.report"}},
		{"node-debug-debug", types.RuntimeNodejs20x, "index.handler", nodeZip, types.ApplicationLogLevelDebug, types.SystemLogLevelDebug,
			[]string{"platform.start", "app:DEBUG:at debug", "app:INFO:at info", "app:WARN:at warn", "app:ERROR:at error", "platform.runtimeDone", "platform.report"}},
		{"node-defaults", types.RuntimeNodejs20x, "index.handler", nodeZip, "", "",
			[]string{"platform.start", "app:INFO:at info", "app:WARN:at warn", "app:ERROR:at error", "platform.report"}},
		{"python-info-warn", types.RuntimePython312, "levels.handle", pyZip, types.ApplicationLogLevelInfo, types.SystemLogLevelWarn,
			[]string{"app:INFO:at info", "app:WARNING:at warn", "app:ERROR:at error"}},
		{"python-error-info", types.RuntimePython312, "levels.handle", pyZip, types.ApplicationLogLevelError, types.SystemLogLevelInfo,
			[]string{"platform.start", "app:ERROR:at error", "platform.report"}},
	}
	for _, tt := range tests {
		createFunction(t, c, tt.name, tt.runtime, tt.handler, tt.zip, withLogging(types.LogFormatJson, tt.app, tt.sys, ""))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for i := range 2 {
				inv := invokeTail(t, c, tt.name, `{}`)
				mustSucceed(t, inv)
				lines := decodeLog(t, inv.Log)
				if got := summary(lines); !slices.Equal(got, tt.want) {
					t.Fatalf("invoke %d: lines %q, want %q\nlog:\n%s", i, got, tt.want, inv.Log)
				}
				for _, l := range lines {
					checkJSONLine(t, l, inv.RequestID, i == 0)
				}
			}
		})
	}
}

// checkJSONLine checks the fields of one record of a warm or cold invoke.
func checkJSONLine(t *testing.T, l logLine, requestID string, cold bool) {
	t.Helper()
	const layout = "2006-01-02T15:04:05.000Z"
	if l.Type == "" {
		if _, err := time.Parse(layout, l.Timestamp); err != nil || l.RequestID != requestID {
			t.Errorf("app record %+v: timestamp %v, want requestId %s", l, err, requestID)
		}
		return
	}
	if _, err := time.Parse(layout, l.Time); err != nil {
		t.Errorf("%s: time %q: %v", l.Type, l.Time, err)
	}
	switch l.Type {
	case "platform.start":
		var r struct{ RequestID, Version string }
		if err := json.Unmarshal(l.Record, &r); err != nil || r.RequestID != requestID || r.Version != "$LATEST" {
			t.Errorf("platform.start record %s (%v), want requestId %s version $LATEST", l.Record, err, requestID)
		}
	case "platform.runtimeDone":
		var r struct{ RequestID, Status string }
		if err := json.Unmarshal(l.Record, &r); err != nil || r.RequestID != requestID || r.Status != "success" {
			t.Errorf("platform.runtimeDone record %s (%v)", l.Record, err)
		}
	case "platform.report":
		var r reportRecord
		if err := json.Unmarshal(l.Record, &r); err != nil {
			t.Fatalf("platform.report record %s: %v", l.Record, err)
		}
		m := r.Metrics
		if r.RequestID != requestID || r.Status != "success" || m.DurationMs == nil || m.BilledDurationMs == nil || *m.BilledDurationMs < 1 ||
			m.MemorySizeMB == nil || *m.MemorySizeMB != 128 || m.MaxMemoryUsedMB == nil || *m.MaxMemoryUsedMB < 1 {
			t.Errorf("platform.report record %s", l.Record)
		}
		if (m.InitDurationMs != nil) != cold {
			t.Errorf("platform.report initDurationMs present = %v on a cold=%v invoke: %s", m.InitDurationMs != nil, cold, l.Record)
		}
	default:
		t.Errorf("unexpected record type %q", l.Type)
	}
}

func TestJSONLogsGoToACustomLogGroup(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	const group = "/custom/json-logs"
	createFunction(t, c, "custom-group", types.RuntimeNodejs20x, "index.handler",
		gusttest.Zip(t, map[string]string{"index.mjs": nodeLevels}), withLogging(types.LogFormatJson, "", "", group))
	inv := invokeTail(t, c, "custom-group", `{}`)
	mustSucceed(t, inv)
	logs := s.Logs()
	var found []string
	gusttest.WaitFor(t, 10*time.Second, "the platform.report record in "+group, func() bool {
		out, err := logs.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String(group), FilterPattern: aws.String(`"platform.report"`)})
		if err != nil {
			return false
		}
		found = found[:0]
		for _, e := range out.Events {
			found = append(found, aws.ToString(e.Message))
		}
		return len(found) == 1
	})
	var l logLine
	if err := json.Unmarshal([]byte(found[0]), &l); err != nil {
		t.Fatalf("stored record %q: %v", found[0], err)
	}
	checkJSONLine(t, l, inv.RequestID, true)
	if _, err := logs.DescribeLogStreams(context.Background(), &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/aws/lambda/custom-group")}); err == nil {
		t.Errorf("the default log group exists too; want only %s", group)
	}
}

// TestJSONLogLevelsDefault: JSON format reports INFO for the levels left
// out, as Lambda does, and refuses a level it does not know.
func TestJSONLogLevelsDefault(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	zip := gusttest.Zip(t, map[string]string{"index.py": "def handler(e, c):\n    return e\n"})
	createFunction(t, c, "levels", types.RuntimePython312, "index.handler", zip, func(in *lambda.CreateFunctionInput) {
		in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatJson}
	})
	conf, err := c.GetFunctionConfiguration(t.Context(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("levels")})
	if err != nil {
		t.Fatal(err)
	}
	if lc := conf.LoggingConfig; lc.ApplicationLogLevel != types.ApplicationLogLevelInfo || lc.SystemLogLevel != types.SystemLogLevelInfo {
		t.Errorf("LoggingConfig = %+v, want INFO and INFO", lc)
	}
	_, err = c.UpdateFunctionConfiguration(t.Context(), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("levels"),
		LoggingConfig: &types.LoggingConfig{SystemLogLevel: "LOUD"}})
	wantAPIError(t, err, "InvalidParameterValueException", "loggingConfig.systemLogLevel")
}
