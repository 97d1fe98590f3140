package runtimeapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fuzzID is the request id of the invocation fuzzSetup creates.
const fuzzID = "req-1"

// fuzzServer is a Server brought to a given state through its own API and
// handlers, with handles on what still runs.
type fuzzServer struct {
	s         *Server
	invoke    <-chan invokeResult // the running Invoke, if any
	cancelInv context.CancelCauseFunc
}

// recorder is a ResponseRecorder that knows whether anything was written.
type recorder struct {
	*httptest.ResponseRecorder
	wrote   bool
	aborted bool
}

func (r *recorder) WriteHeader(code int) { r.wrote = true; r.ResponseRecorder.WriteHeader(code) }

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseRecorder.Write(b)
}

// serve runs one request through the handler and returns its recorder,
// failing if it does not finish in time.
func serve(t *testing.T, s *Server, req *http.Request) *recorder {
	t.Helper()
	rec := &recorder{ResponseRecorder: httptest.NewRecorder()}
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		s.serveHTTP(rec, req)
	}()
	select {
	case p := <-done:
		if p == http.ErrAbortHandler {
			rec.aborted = true
		} else if p != nil {
			t.Fatalf("%s %s panicked: %v", req.Method, req.URL, p)
		}
	case <-time.After(testTimeout):
		t.Fatalf("%s %s did not return: deadlock", req.Method, req.URL)
	}
	return rec
}

func request(ctx context.Context, method, path string, body []byte) *http.Request {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	return req.WithContext(ctx)
}

// startNext starts a /next that waits until cancel is called.
func startNext(t *testing.T, s *Server) (cancel func()) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve(t, s, request(ctx, http.MethodGet, "/2018-06-01/runtime/invocation/next", nil))
	}()
	waitState(t, s, statePolling)
	return func() { stop(); <-done }
}

func fuzzSetup(t *testing.T, want state) *fuzzServer {
	f := &fuzzServer{s: New(Options{MaxResponseBytes: 128})}
	s := f.s
	invoke := func() {
		ctx, cancel := context.WithCancelCause(context.Background())
		f.cancelInv = cancel
		f.invoke = asyncInvoke(ctx, s, Invocation{RequestID: fuzzID, Payload: []byte(`{}`)})
	}
	bg := context.Background()
	switch want {
	case stateInit:
	case statePolling:
		_ = startNext(t, s) // left waiting; Close releases it
	case stateIdle, stateQueued:
		startNext(t, s)()
		waitState(t, s, stateIdle)
		if want == stateQueued {
			invoke()
			waitState(t, s, stateQueued)
		}
	case stateInvoking, stateResponded, stateFailed:
		stop := startNext(t, s)
		invoke()
		waitState(t, s, stateInvoking)
		stop()
		switch want {
		case stateResponded:
			serve(t, s, request(bg, http.MethodPost, "/2018-06-01/runtime/invocation/"+fuzzID+"/response", []byte(`1`)))
			recv(t, f.invoke, "Invoke")
		case stateFailed:
			f.cancelInv(errors.New("fuzz"))
			recv(t, f.invoke, "Invoke")
		}
	case stateInitFailed:
		serve(t, s, request(bg, http.MethodPost, "/2018-06-01/runtime/init/error", []byte(`{}`)))
	case stateClosed:
		_ = s.Close()
	}
	waitState(t, s, want)
	return f
}

func FuzzHandlers(f *testing.F) {
	seeds := []struct {
		st                   uint8
		method, path         string
		mode, errType        string
		body                 []byte
		chunk                bool
		trailerType, trailer string
	}{
		{0, "GET", "/2018-06-01/runtime/invocation/next", "", "", nil, false, "", ""},
		{1, "GET", "/2018-06-01/runtime/invocation/next", "", "", nil, false, "", ""},
		{2, "GET", "/2018-06-01/runtime/invocation/next", "", "", nil, false, "", ""},
		{3, "GET", "/2018-06-01/runtime/invocation/next", "", "", nil, false, "", ""},
		{4, "POST", "/2018-06-01/runtime/invocation/{id}/response", "", "", []byte(`{"a":1}`), false, "", ""},
		{4, "POST", "/2018-06-01/runtime/invocation/{id}/response", "streaming", "", []byte(`part`), true, "Function.X", "eyJhIjoxfQ=="},
		{4, "POST", "/2018-06-01/runtime/invocation/{id}/response", "bogus", "", nil, false, "", ""},
		{4, "POST", "/2018-06-01/runtime/invocation/{id}/error", "", "Runtime.Crash", []byte(strings.Repeat("x", 200)), true, "", ""},
		{4, "POST", "/2018-06-01/runtime/invocation/other/error", "", "", nil, false, "", ""},
		{5, "POST", "/2018-06-01/runtime/invocation/{id}/response", "", "", []byte(`2`), false, "", ""},
		{0, "POST", "/2018-06-01/runtime/init/error", "", "Runtime.ImportModuleError", []byte(`{}`), false, "", ""},
		{6, "GET", "/2018-06-01/runtime/invocation/next", "", "", nil, false, "", ""},
		{7, "POST", "/2018-06-01/runtime/invocation/{id}/response", "", "", nil, false, "", ""},
		{8, "GET", "/2018-06-01/runtime/invocation/next", "", "", nil, false, "", ""},
		{2, "PUT", "/2022-07-01/telemetry", "", "", []byte(`{}`), false, "", ""},
	}
	for _, sd := range seeds {
		f.Add(sd.st, sd.method, sd.path, sd.mode, sd.errType, sd.body, sd.chunk, sd.trailerType, sd.trailer)
	}
	f.Fuzz(func(t *testing.T, st uint8, method, path, mode, errType string, body []byte, chunk bool, trailerType, trailerBody string) {
		from := state(st % uint8(numStates))
		path = strings.ReplaceAll(path, "{id}", fuzzID)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		var rd io.Reader = bytes.NewReader(body)
		if chunk {
			rd = io.MultiReader(rd)
		}
		req, err := http.NewRequestWithContext(ctx, method, "http://runtime"+path, rd)
		if err != nil || req.URL.Host != "runtime" {
			t.Skip()
		}
		if chunk {
			req.ContentLength = -1
			req.Trailer = http.Header{hdrErrorType: {trailerType}, hdrErrorBody: {trailerBody}}
			req.Body = io.NopCloser(&trailerSetter{r: rd, req: req, tr: req.Trailer})
			req.Trailer = http.Header{}
		}
		if mode != "" {
			req.Header.Set(hdrResponseMode, mode)
		}
		if errType != "" {
			req.Header.Set(hdrErrorType, errType)
		}

		fs := fuzzSetup(t, from)
		s := fs.s
		rec := serve(t, s, req)

		s.mu.Lock()
		to, wakeLen, invoking, answered := s.st, len(s.wake), s.invoking, s.answered
		s.mu.Unlock()
		code := rec.Code
		switch {
		case rec.aborted:
			code = 0
			if to != stateClosed {
				t.Errorf("connection aborted in %s", to)
			}
		case !rec.wrote:
			// Only a /next whose client left says nothing.
			code = 0
			if req.URL.Path != apiPrefix+pathNext || ctx.Err() == nil {
				t.Errorf("%s %s wrote nothing (%s → %s)", method, path, from, to)
			}
		}
		switch code {
		case 0, 200, 202, 400, 403, 404, 405, 413:
		default:
			t.Errorf("status %d", code)
		}
		if to >= numStates {
			t.Fatalf("invalid state %d", to)
		}
		if from.terminal() && to != from {
			t.Errorf("terminal %s moved to %s", from, to)
		}
		if from.terminal() && code != 0 && code < 300 {
			t.Errorf("terminal %s answered %d", from, code)
		}
		if code == 202 && !(to == stateResponded || (from == stateInit && to == stateInitFailed)) {
			t.Errorf("202 but %s → %s", from, to)
		}
		if code == 200 && rec.Header().Get(hdrRequestID) != fuzzID {
			t.Errorf("200 without the event (%s → %s)", from, to)
		}
		if (to == stateQueued || to == stateInvoking) && !invoking {
			t.Errorf("%s without a running Invoke", to)
		}
		if to == stateResponded && fs.invoke != nil && !answered && invoking {
			t.Errorf("Responded but the answer is not recorded")
		}
		if to != stateClosed && wakeLen != 0 {
			t.Errorf("wake holds %d signals in %s", wakeLen, to)
		}

		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if fs.invoke != nil && (from == stateQueued || from == stateInvoking) {
			recv(t, fs.invoke, "Invoke after Close")
		}
	})
}

// trailerSetter fills the request's trailers when the body ends, as the
// server's chunked reader does.
type trailerSetter struct {
	r   io.Reader
	req *http.Request
	tr  http.Header
}

func (t *trailerSetter) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err == io.EOF {
		for k, v := range t.tr {
			t.req.Trailer[k] = v
		}
	}
	return n, err
}
