package envpool

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
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
// same stream and tail as the function's own output.
func (o *output) platform(s string) {
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
