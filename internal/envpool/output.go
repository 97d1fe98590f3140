package envpool

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gust/internal/lambda"
)

// LogWriter receives an environment's log lines: the function's stdout and
// stderr, one call per line, and the platform's START/END/REPORT lines.
// Implementations must not block (the log store buffers and bounds).
type LogWriter interface {
	WriteLog(group, stream string, at time.Time, line string)
}

// maxLineBytes splits longer lines, as CloudWatch caps an event at 256 KB.
const maxLineBytes = 256 * 1024

// output turns an environment's output pipe into log lines. It owns one
// goroutine (run) that drains the pipe until EOF. While an invocation is
// active, lines are also kept in a bounded tail for X-Amz-Log-Result.
type output struct {
	pipe   *os.File
	sink   LogWriter
	group  string
	stream string
	// json renders platform lines as JSON records (LogFormat JSON);
	// systemLevel is the least severe record level kept then.
	json        bool
	systemLevel int
	endPending  string // request id of an END line awaiting its REPORT (JSON)

	mu        sync.Mutex
	cond      *sync.Cond
	processed int64 // bytes read from the pipe and turned into lines
	eof       bool
	tail      *tailBuffer // nil when no invocation is active
}

func newOutput(pipe *os.File, sink LogWriter, group, stream string) *output {
	o := &output{pipe: pipe, sink: sink, group: group, stream: stream}
	o.cond = sync.NewCond(&o.mu)
	return o
}

// newFunctionOutput is newOutput for a function's log group and format.
func newFunctionOutput(pipe *os.File, sink LogWriter, cfg lambda.LoggingConfig, stream string) *output {
	o := newOutput(pipe, sink, cfg.LogGroup, stream)
	if cfg.LogFormat == lambda.LogFormatJSON {
		o.json = true
		o.systemLevel = systemLevel(cfg.SystemLogLevel)
	}
	return o
}

// run drains the pipe; it returns at EOF (every writer exited) or when the
// pipe is closed.
func (o *output) run() {
	buf := make([]byte, 64*1024)
	var lines lineSplitter
	for {
		n, err := o.pipe.Read(buf)
		if n > 0 {
			now := time.Now()
			lines.feed(buf[:n], func(b []byte) { o.line(now, b) })
			o.mu.Lock()
			o.processed += int64(n)
			o.cond.Broadcast()
			o.mu.Unlock()
		}
		if err != nil {
			lines.flush(func(b []byte) { o.line(time.Now(), b) })
			o.mu.Lock()
			o.eof = true
			o.cond.Broadcast()
			o.mu.Unlock()
			o.pipe.Close()
			return
		}
	}
}

// line stores one event. Runtimes write a multi-line message as one line
// with "\r" for its inner newlines (as Lambda's runtime clients do); the
// event gets its newlines back.
func (o *output) line(at time.Time, b []byte) {
	b = bytes.TrimSuffix(b, []byte{'\r'})
	s := string(b)
	if bytes.IndexByte(b, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	o.sink.WriteLog(o.group, o.stream, at, s)
	o.mu.Lock()
	if o.tail != nil {
		o.tail.add(s)
	}
	o.mu.Unlock()
}

// lineSplitter cuts a byte stream into lines of at most maxLineBytes,
// splitting longer ones at a UTF-8 boundary.
type lineSplitter struct {
	partial []byte
}

// feed emits every complete line in data; emit must not keep its argument.
func (l *lineSplitter) feed(data []byte, emit func([]byte)) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		chunk := data
		if i >= 0 {
			chunk = data[:i]
		}
		if len(l.partial) == 0 && i >= 0 && len(chunk) <= maxLineBytes {
			emit(chunk) // the common case: a whole line in one read, no copy
		} else {
			l.partial = append(l.partial, chunk...)
			for len(l.partial) > maxLineBytes {
				cut := utf8Boundary(l.partial, maxLineBytes)
				emit(l.partial[:cut])
				l.partial = append(l.partial[:0], l.partial[cut:]...)
			}
			if i >= 0 {
				emit(l.partial)
				l.partial = l.partial[:0]
			}
		}
		if i < 0 {
			return
		}
		data = data[i+1:]
	}
}

// flush emits a last line that had no newline.
func (l *lineSplitter) flush(emit func([]byte)) {
	if len(l.partial) > 0 {
		emit(l.partial)
		l.partial = l.partial[:0]
	}
}

// utf8Boundary returns the largest n <= limit at which b can be cut
// without splitting a UTF-8 sequence.
func utf8Boundary(b []byte, limit int) int {
	for n := limit; n > limit-utf8.UTFMax && n > 0; n-- {
		if utf8.RuneStart(b[n]) {
			return n
		}
	}
	return limit
}

// platform writes a line made by Gust (START, END, REPORT, errors) to the
// same stream and tail as the function's own output. Lines are always made
// in Lambda's text form; in JSON mode platformJSON turns them into records.
func (o *output) platform(s string) {
	if o.json {
		for _, line := range o.platformJSON(s, time.Now()) {
			o.write(line)
		}
		return
	}
	o.write(s)
}

func (o *output) write(s string) {
	o.sink.WriteLog(o.group, o.stream, time.Now(), s)
	o.mu.Lock()
	if o.tail != nil {
		o.tail.add(s)
	}
	o.mu.Unlock()
}

// beginTail starts collecting a tail for one invocation.
func (o *output) beginTail() {
	o.mu.Lock()
	o.tail = &tailBuffer{}
	o.mu.Unlock()
}

// endTail stops collecting and returns the last bytes collected.
func (o *output) endTail() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tail == nil {
		return nil
	}
	b := o.tail.bytes()
	o.tail = nil
	return b
}

// settle waits (at most limit) until every byte already written to the
// pipe has been turned into lines, so that what a runtime printed before
// posting its response lands before the END line. Pipes from runtimes are
// written synchronously, so the bytes are in the pipe when the response
// arrives; TIOCINQ (FIONREAD) tells how many are still unread.
func (o *output) settle(limit time.Duration) {
	pending := pendingBytes(o.pipe)
	o.mu.Lock()
	defer o.mu.Unlock()
	if pending <= 0 || o.eof {
		return
	}
	target := o.processed + int64(pending)
	deadline := time.Now().Add(limit)
	timer := time.AfterFunc(limit, func() {
		o.mu.Lock()
		o.cond.Broadcast()
		o.mu.Unlock()
	})
	defer timer.Stop()
	for o.processed < target && !o.eof && time.Now().Before(deadline) {
		o.cond.Wait()
	}
}

// tailBuffer keeps the last tailLimit bytes of an invocation's log.
type tailBuffer struct {
	buf []byte
}

const tailLimit = 4096

func (t *tailBuffer) add(line string) {
	t.buf = append(t.buf, line...)
	t.buf = append(t.buf, '\n')
	if len(t.buf) > 4*tailLimit {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailLimit:]...)
	}
}

func (t *tailBuffer) bytes() []byte {
	if len(t.buf) > tailLimit {
		return t.buf[len(t.buf)-tailLimit:]
	}
	return t.buf
}

// System log levels, least severe first, as LoggingConfig.SystemLogLevel
// names them. They filter platform records in JSON mode only, as on AWS.
const (
	levelDebug = iota
	levelInfo
	levelWarn
)

func systemLevel(name string) int {
	switch strings.ToUpper(name) {
	case "DEBUG":
		return levelDebug
	case "WARN":
		return levelWarn
	}
	return levelInfo // Lambda's default
}

// platformRecord is one JSON-mode system log line, in Lambda's field order.
type platformRecord struct {
	Time   string `json:"time"`
	Type   string `json:"type"`
	Record any    `json:"record"`
}

type startRecord struct {
	RequestID string `json:"requestId"`
	Version   string `json:"version"`
}

type runtimeDoneRecord struct {
	RequestID string `json:"requestId"`
	Status    string `json:"status"`
	ErrorType string `json:"errorType,omitempty"`
}

type reportMetrics struct {
	DurationMs       float64  `json:"durationMs"`
	BilledDurationMs int64    `json:"billedDurationMs"`
	MemorySizeMB     int64    `json:"memorySizeMB"`
	MaxMemoryUsedMB  int64    `json:"maxMemoryUsedMB"`
	InitDurationMs   *float64 `json:"initDurationMs,omitempty"`
}

type tracingRecord struct {
	SpanID string `json:"spanId,omitempty"`
	Type   string `json:"type"`
	Value  string `json:"value"`
}

type reportRecord struct {
	RequestID string         `json:"requestId"`
	Metrics   reportMetrics  `json:"metrics"`
	Tracing   *tracingRecord `json:"tracing,omitempty"`
	Status    string         `json:"status"`
	ErrorType string         `json:"errorType,omitempty"`
}

type initMetrics struct {
	DurationMs float64 `json:"durationMs"`
}

type initReportRecord struct {
	InitializationType string      `json:"initializationType"`
	Phase              string      `json:"phase"`
	Status             string      `json:"status"`
	ErrorType          string      `json:"errorType,omitempty"`
	Metrics            initMetrics `json:"metrics"`
}

// platformJSON translates one text platform line into the JSON records
// Lambda writes in JSON mode, dropping those below the system log level:
// START becomes platform.start (INFO); END is held and written as
// platform.runtimeDone (DEBUG) once the REPORT gives its status; REPORT
// becomes platform.report (INFO); INIT_REPORT becomes platform.initReport
// (INFO). Other lines (error and timeout messages) stay as they are, as
// Lambda writes them. Translating keeps one renderer of every platform line,
// so text mode stays exactly as it was.
func (o *output) platformJSON(line string, now time.Time) []string {
	at := now.UTC().Format("2006-01-02T15:04:05.000Z")
	var out []string
	emit := func(level int, typ string, rec any) {
		if level < o.systemLevel {
			return
		}
		b, err := jsonMarshal(platformRecord{Time: at, Type: typ, Record: rec})
		if err == nil {
			out = append(out, b)
		}
	}
	switch {
	case strings.HasPrefix(line, "START RequestId: "):
		id, version, _ := strings.Cut(strings.TrimPrefix(line, "START RequestId: "), " Version: ")
		emit(levelInfo, "platform.start", startRecord{RequestID: id, Version: version})
	case strings.HasPrefix(line, "END RequestId: "):
		o.endPending = strings.TrimPrefix(line, "END RequestId: ")
	case strings.HasPrefix(line, "REPORT RequestId: "):
		rec := reportRecordOf(line)
		if o.endPending == rec.RequestID {
			emit(levelDebug, "platform.runtimeDone", runtimeDoneRecord{RequestID: rec.RequestID, Status: rec.Status, ErrorType: rec.ErrorType})
		}
		o.endPending = ""
		emit(levelInfo, "platform.report", rec)
	case strings.HasPrefix(line, "INIT_REPORT "):
		f := textFields(strings.TrimPrefix(line, "INIT_REPORT "))
		status, errType := reportStatus(f)
		if status == "success" {
			status = "error" // INIT_REPORT is only written for a failed init
		}
		emit(levelInfo, "platform.initReport", initReportRecord{
			InitializationType: "on-demand", Phase: f["Phase"], Status: status, ErrorType: errType,
			Metrics: initMetrics{DurationMs: msField(f["Init Duration"])},
		})
	default:
		out = append(out, line)
	}
	return out
}

// reportRecordOf reads a text REPORT line (formatReport's form, or the
// failed-init one) back into its record.
func reportRecordOf(line string) reportRecord {
	f := textFields(line)
	rec := reportRecord{RequestID: f["REPORT RequestId"]}
	rec.Metrics.DurationMs = msField(f["Duration"])
	rec.Metrics.BilledDurationMs = int64(msField(f["Billed Duration"]))
	rec.Metrics.MemorySizeMB = int64(msField(f["Memory Size"]))
	rec.Metrics.MaxMemoryUsedMB = int64(msField(f["Max Memory Used"]))
	if v, ok := f["Init Duration"]; ok {
		ms := msField(v)
		rec.Metrics.InitDurationMs = &ms
	}
	rec.Status, rec.ErrorType = reportStatus(f)
	if trace, ok := f["XRAY TraceId"]; ok {
		value := "Root=" + trace
		if seg := f["SegmentId"]; seg != "" {
			value += ";Parent=" + seg
		}
		if f["Sampled"] == "true" {
			value += ";Sampled=1"
		} else {
			value += ";Sampled=0"
		}
		rec.Tracing = &tracingRecord{SpanID: f["SegmentId"], Type: "X-Amzn-Trace-Id", Value: value}
	}
	return rec
}

// textFields splits "Key: value\tKey: value…" into a map.
func textFields(s string) map[string]string {
	f := make(map[string]string)
	for _, part := range strings.Split(s, "\t") {
		if k, v, ok := strings.Cut(part, ": "); ok {
			f[k] = v
		}
	}
	return f
}

// reportStatus maps the Status and Error Type fields to the record's
// status ("success", "error", "timeout") and errorType.
func reportStatus(f map[string]string) (status, errorType string) {
	switch f["Status"] {
	case "":
		return "success", ""
	case "timeout":
		return "timeout", ""
	}
	return "error", f["Error Type"]
}

// msField parses "12.34 ms" or "128 MB" as a number; bad input is 0.
func msField(v string) float64 {
	num, _, _ := strings.Cut(v, " ")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	return n
}

func jsonMarshal(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
