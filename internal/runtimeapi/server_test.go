package runtimeapi

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestInvokeHeaders(t *testing.T) {
	deadline := time.UnixMilli(1_700_000_123_456)
	tests := []struct {
		name string
		inv  Invocation
		want map[string]string // "" = header must be absent
	}{
		{
			name: "all fields",
			inv: Invocation{
				RequestID: "req-1", Payload: []byte(`{"k":"v"}`), ContentType: "text/plain",
				Deadline: deadline, InvokedFunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:f:7",
				ClientContext: `{"custom":{"a":"b"}}`, CognitoIdentity: `{"cognitoIdentityId":"i","cognitoIdentityPoolId":"p"}`,
				TraceID: "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1", TenantID: "tenant-a",
			},
			want: map[string]string{
				hdrRequestID:       "req-1",
				hdrDeadlineMs:      "1700000123456",
				hdrFunctionARN:     "arn:aws:lambda:us-east-1:000000000000:function:f:7",
				hdrClientContext:   `{"custom":{"a":"b"}}`,
				hdrCognitoIdentity: `{"cognitoIdentityId":"i","cognitoIdentityPoolId":"p"}`,
				hdrTraceID:         "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
				hdrTenantID:        "tenant-a",
				hdrContentType:     "text/plain",
				hdrContentLength:   "9",
			},
		},
		{
			name: "only required fields",
			inv:  Invocation{RequestID: "req-2", Payload: []byte(`{}`), Deadline: deadline, InvokedFunctionARN: "arn:f"},
			want: map[string]string{
				hdrRequestID: "req-2", hdrDeadlineMs: "1700000123456", hdrFunctionARN: "arn:f",
				hdrClientContext: "", hdrCognitoIdentity: "", hdrTraceID: "", hdrTenantID: "",
				hdrContentType: "application/json",
			},
		},
	}
	s := startServer(t, Options{})
	r := newRuntime(t, s)
	next := ready(t, s, r)
	pctx := ctxTimeout(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := asyncInvoke(ctxTimeout(t), s, tt.inv)
			ev := recv(t, next, "/next")
			if ev.status != http.StatusOK {
				t.Fatalf("/next status = %d, want 200 (%s)", ev.status, ev.body)
			}
			if ev.body != string(tt.inv.Payload) {
				t.Errorf("/next body = %q, want %q", ev.body, tt.inv.Payload)
			}
			for k, want := range tt.want {
				got, present := ev.header[k]
				if want == "" && present {
					t.Errorf("header %s = %q, want absent", k, got)
				}
				if want != "" && ev.header.Get(k) != want {
					t.Errorf("header %s = %q, want %q", k, ev.header.Get(k), want)
				}
			}
			if rp := r.respond(tt.inv.RequestID, `"ok"`, nil); rp.status != http.StatusAccepted || rp.body != `{"status":"OK"}` {
				t.Errorf("response = %d %s, want 202 {\"status\":\"OK\"}", rp.status, rp.body)
			}
			got := recv(t, done, "Invoke")
			if got.err != nil || string(got.res.Payload) != `"ok"` || got.res.ErrorType != "" {
				t.Errorf("Invoke = %q %q %v, want \"ok\" success", got.res.Payload, got.res.ErrorType, got.err)
			}
			next = r.asyncNext(pctx)
		})
	}
}

func TestInvokeRoundTrip(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)

	waited := make(chan error, 1)
	go func() { waited <- s.WaitReady(ctxTimeout(t)) }()
	select {
	case err := <-waited:
		t.Fatalf("WaitReady returned %v before the first /next", err)
	case <-time.After(20 * time.Millisecond):
	}
	if _, err := s.Invoke(ctxTimeout(t), Invocation{RequestID: "early"}); !errors.Is(err, ErrNotReady) {
		t.Errorf("Invoke before ready = %v, want ErrNotReady", err)
	}
	pctx := ctxTimeout(t)
	next := r.asyncNext(pctx)
	if err := recv(t, waited, "WaitReady"); err != nil {
		t.Fatalf("WaitReady = %v", err)
	}

	tests := []struct {
		name     string
		answer   func(id string) resp
		wantBody string
		wantType string
	}{
		{"success", func(id string) resp { return r.respond(id, `{"answer":42}`, nil) }, `{"answer":42}`, ""},
		{"success chunked", func(id string) resp {
			return r.mustDo(http.MethodPost, "invocation/"+id+"/response", chunked(`[1,2,3]`), nil)
		}, `[1,2,3]`, ""},
		{"empty success", func(id string) resp { return r.respond(id, ``, nil) }, ``, ""},
		{"error with type", func(id string) resp {
			return r.fail(id, `{"errorMessage":"boom","errorType":"KeyError","stackTrace":[]}`,
				http.Header{hdrErrorType: {"Function.KeyErrorThing"}})
		}, `{"errorMessage":"boom","errorType":"KeyError","stackTrace":[]}`, "Function.KeyErrorThing"},
		{"error without type", func(id string) resp { return r.fail(id, `not json at all`, nil) }, `not json at all`, "Runtime.Unknown"},
		{"error odd type", func(id string) resp {
			return r.fail(id, `{}`, http.Header{hdrErrorType: {"Function.lowercase"}})
		}, `{}`, "Function.Unknown"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "req-" + strconv.Itoa(i)
			before := time.Now()
			done := asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: id, Payload: []byte(`{}`), Deadline: before.Add(time.Minute)})
			ev := recv(t, next, "/next")
			if got := ev.header.Get(hdrRequestID); got != id {
				t.Fatalf("/next request id = %q, want %q", got, id)
			}
			if rp := tt.answer(id); rp.status != http.StatusAccepted {
				t.Fatalf("answer status = %d (%s), want 202", rp.status, rp.body)
			}
			got := recv(t, done, "Invoke")
			if got.err != nil {
				t.Fatalf("Invoke: %v", got.err)
			}
			if string(got.res.Payload) != tt.wantBody || got.res.ErrorType != tt.wantType {
				t.Errorf("Result = %q type %q, want %q type %q", got.res.Payload, got.res.ErrorType, tt.wantBody, tt.wantType)
			}
			if got.res.Started.Before(before) || got.res.Finished.Before(got.res.Started) {
				t.Errorf("Started %v, Finished %v: want before(%v) <= Started <= Finished", got.res.Started, got.res.Finished, before)
			}
			// The runtime polls again: the normal path after an answer.
			next = r.asyncNext(pctx)
			waitState(t, s, statePolling)
		})
	}
}

func TestInvokeQueuedBeforeNext(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)
	next := ready(t, s, r)
	done := asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: "a", Payload: []byte(`1`)})
	recv(t, next, "/next")
	r.respond("a", `1`, nil)
	recv(t, done, "Invoke a")
	// No /next pending: the event must wait in the queue.
	done = asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: "b", Payload: []byte(`2`)})
	waitState(t, s, stateQueued)
	if ev := r.next(); ev.header.Get(hdrRequestID) != "b" || ev.body != `2` {
		t.Fatalf("/next = %q %q, want b 2", ev.header.Get(hdrRequestID), ev.body)
	}
	r.respond("b", `2`, nil)
	if got := recv(t, done, "Invoke b"); string(got.res.Payload) != `2` {
		t.Errorf("Invoke b = %q, want 2", got.res.Payload)
	}
}

func TestConcurrentInvokeBusy(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)
	next := ready(t, s, r)
	done := asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: "a"})
	recv(t, next, "/next")
	if _, err := s.Invoke(ctxTimeout(t), Invocation{RequestID: "b"}); !errors.Is(err, ErrBusy) {
		t.Errorf("second Invoke = %v, want ErrBusy", err)
	}
	r.respond("a", `1`, nil)
	if got := recv(t, done, "Invoke"); got.err != nil {
		t.Errorf("first Invoke = %v", got.err)
	}
}

func TestInitError(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)
	body := `{"errorMessage":"Unable to import module 'lambda_function'","errorType":"Runtime.ImportModuleError"}`
	rp := r.mustDo(http.MethodPost, "init/error", strings.NewReader(body), http.Header{hdrErrorType: {"Runtime.ImportModuleError"}})
	if rp.status != http.StatusAccepted {
		t.Fatalf("init/error = %d %s, want 202", rp.status, rp.body)
	}
	err := s.WaitReady(ctxTimeout(t))
	var ie *InitError
	if !errors.As(err, &ie) {
		t.Fatalf("WaitReady = %v, want *InitError", err)
	}
	if ie.ErrorType != "Runtime.ImportModuleError" || string(ie.Payload) != body {
		t.Errorf("InitError = %q %q, want the header type and the body verbatim", ie.ErrorType, ie.Payload)
	}
	if _, err := s.Invoke(ctxTimeout(t), Invocation{RequestID: "x"}); !errors.As(err, &ie) {
		t.Errorf("Invoke after init error = %v, want *InitError", err)
	}
	for _, path := range []string{"init/error", "invocation/next"} {
		method := http.MethodPost
		if path == "invocation/next" {
			method = http.MethodGet
		}
		if rp := r.mustDo(method, path, strings.NewReader(`{}`), nil); rp.status != http.StatusForbidden || !strings.Contains(rp.body, `"errorType":"InvalidStateTransition"`) {
			t.Errorf("%s after init error = %d %s, want 403 InvalidStateTransition", path, rp.status, rp.body)
		}
	}
}

func TestInitErrorAfterReady(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)
	ready(t, s, r)
	if rp := r.mustDo(http.MethodPost, "init/error", strings.NewReader(`{}`), nil); rp.status != http.StatusForbidden {
		t.Errorf("init/error after /next = %d, want 403", rp.status)
	}
	if err := s.WaitReady(ctxTimeout(t)); err != nil {
		t.Errorf("WaitReady = %v, want nil", err)
	}
}

func TestRuntimeRequestValidation(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)

	// Before any invocation every id is unknown.
	if rp := r.respond("nope", `1`, nil); rp.status != http.StatusBadRequest || rp.body != `{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}` {
		t.Errorf("response before invoke = %d %s, want 400 InvalidRequestID", rp.status, rp.body)
	}
	next := ready(t, s, r)
	// A second /next while one waits.
	if rp := r.next(); rp.status != http.StatusForbidden || !strings.Contains(rp.body, "InvalidStateTransition") {
		t.Errorf("concurrent /next = %d %s, want 403 InvalidStateTransition", rp.status, rp.body)
	}
	done := asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: "good"})
	recv(t, next, "/next")
	// /next again while the event awaits its answer.
	if rp := r.next(); rp.status != http.StatusForbidden {
		t.Errorf("/next while invoking = %d, want 403", rp.status)
	}
	for _, id := range []string{"bad", "goo"} {
		if rp := r.respond(id, `1`, nil); rp.status != http.StatusBadRequest {
			t.Errorf("response for %q = %d, want 400", id, rp.status)
		}
		if rp := r.fail(id, `1`, nil); rp.status != http.StatusBadRequest {
			t.Errorf("error for %q = %d, want 400", id, rp.status)
		}
	}
	if rp := r.mustDo(http.MethodPost, "invocation//response", strings.NewReader(`1`), nil); rp.status != http.StatusBadRequest {
		t.Errorf("response for empty id = %d, want 400", rp.status)
	}
	if rp := r.respond("good", `1`, nil); rp.status != http.StatusAccepted {
		t.Fatalf("response = %d, want 202", rp.status)
	}
	for _, answer := range []func() resp{
		func() resp { return r.respond("good", `2`, nil) },
		func() resp { return r.fail("good", `2`, nil) },
	} {
		if rp := answer(); rp.status != http.StatusForbidden || !strings.Contains(rp.body, "InvalidStateTransition") {
			t.Errorf("second answer = %d %s, want 403 InvalidStateTransition", rp.status, rp.body)
		}
	}
	if got := recv(t, done, "Invoke"); string(got.res.Payload) != `1` {
		t.Errorf("Invoke = %q, want the first answer", got.res.Payload)
	}
}

func TestResponseTooLarge(t *testing.T) {
	const limit = 64
	s := startServer(t, Options{MaxResponseBytes: limit})
	r := newRuntime(t, s)
	next := ready(t, s, r)
	pctx := ctxTimeout(t)
	wantRuntime := `{"errorMessage":"Exceeded maximum allowed payload size (64 bytes).","errorType":"RequestEntityTooLarge"}`
	wantResult := `{"errorMessage":"Response payload size exceeded maximum allowed payload size (64 bytes).","errorType":"Function.ResponseSizeTooLarge"}`
	big := strings.Repeat("x", limit+1)
	tests := []struct {
		name string
		post func(id string) resp
	}{
		{"response with length", func(id string) resp { return r.respond(id, big, nil) }},
		{"response chunked", func(id string) resp {
			return r.mustDo(http.MethodPost, "invocation/"+id+"/response", chunked(big+big), nil)
		}},
		{"error", func(id string) resp { return r.fail(id, big, nil) }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "big-" + strconv.Itoa(i)
			done := asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: id})
			recv(t, next, "/next")
			if rp := tt.post(id); rp.status != http.StatusRequestEntityTooLarge || rp.body != wantRuntime {
				t.Errorf("runtime got %d %s, want 413 %s", rp.status, rp.body, wantRuntime)
			}
			got := recv(t, done, "Invoke")
			if got.err != nil || got.res.ErrorType != "Function.ResponseSizeTooLarge" || string(got.res.Payload) != wantResult {
				t.Errorf("Invoke = %q %q %v, want Function.ResponseSizeTooLarge %s", got.res.ErrorType, got.res.Payload, got.err, wantResult)
			}
			next = r.asyncNext(pctx)
		})
	}
	// Exactly at the limit is fine.
	done := asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: "fits"})
	recv(t, next, "/next")
	if rp := r.respond("fits", big[:limit], nil); rp.status != http.StatusAccepted {
		t.Errorf("response of exactly the limit = %d, want 202", rp.status)
	}
	if got := recv(t, done, "Invoke"); len(got.res.Payload) != limit || got.res.ErrorType != "" {
		t.Errorf("Invoke = %d bytes type %q, want %d bytes success", len(got.res.Payload), got.res.ErrorType, limit)
	}
}

func TestInvokeContextEnds(t *testing.T) {
	cause := errors.New("runtime exited")
	tests := []struct {
		name    string
		deliver bool // whether the runtime received the event first
	}{{"queued", false}, {"in flight", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Options{})
			r := newRuntime(t, s)
			next := ready(t, s, r)
			if !tt.deliver { // let the waiting /next go, so the event queues
				rp := r.asyncNext(ctxTimeout(t))
				if got := recv(t, rp, "second /next"); got.status != http.StatusForbidden {
					t.Fatalf("second /next = %d, want 403", got.status)
				}
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			var done <-chan invokeResult
			if tt.deliver {
				done = asyncInvoke(ctx, s, Invocation{RequestID: "a"})
				recv(t, next, "/next")
			} else {
				s.mu.Lock()
				s.st = stateResponded // as after an answer, before the next poll
				s.mu.Unlock()
				done = asyncInvoke(ctx, s, Invocation{RequestID: "a"})
				waitState(t, s, stateQueued)
			}
			cancel(cause)
			got := recv(t, done, "Invoke")
			if !errors.Is(got.err, cause) {
				t.Fatalf("Invoke = %v, want the cause %v", got.err, cause)
			}
			if undelivered := errors.Is(got.err, ErrNotDelivered); undelivered == tt.deliver {
				t.Fatalf("Invoke = %v: ErrNotDelivered is %v, want %v", got.err, undelivered, !tt.deliver)
			}
			if _, err := s.Invoke(ctxTimeout(t), Invocation{RequestID: "b"}); !errors.Is(err, ErrFailed) {
				t.Errorf("later Invoke = %v, want ErrFailed", err)
			}
			if rp := r.respond("a", `1`, nil); rp.status != http.StatusForbidden {
				t.Errorf("late response = %d, want 403", rp.status)
			}
		})
	}
}

func TestInvokeContextAlreadyDone(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)
	next := ready(t, s, r)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Invoke(ctx, Invocation{RequestID: "a"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Invoke = %v, want context.Canceled", err)
	}
	done := asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: "b"})
	if ev := recv(t, next, "/next"); ev.header.Get(hdrRequestID) != "b" {
		t.Fatalf("/next got %q, want b: a dead ctx must not fail the server", ev.header.Get(hdrRequestID))
	}
	r.respond("b", `1`, nil)
	recv(t, done, "Invoke")
}

func TestCloseReleasesWaiters(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)
	waitErr := make(chan error, 1)
	go func() { waitErr <- s.WaitReady(ctxTimeout(t)) }()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := recv(t, waitErr, "WaitReady"); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitReady = %v, want ErrClosed", err)
	}

	s = startServer(t, Options{})
	r = newRuntime(t, s)
	next := ready(t, s, r)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	if got := recv(t, next, "released /next"); got.status != -1 {
		t.Errorf("/next after Close = %d %s, want a closed connection", got.status, got.body)
	}
	if err := recv(t, closed, "Close"); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := s.Invoke(ctxTimeout(t), Invocation{RequestID: "a"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close = %v, want ErrClosed", err)
	}
}

func TestCloseReleasesInvoke(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)
	next := ready(t, s, r)
	done := asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: "a"})
	recv(t, next, "/next")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := recv(t, done, "Invoke"); !errors.Is(got.err, ErrClosed) {
		t.Errorf("Invoke = %v, want ErrClosed", got.err)
	}
}

func TestNextClientLeaves(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	gone := r.asyncNext(ctx)
	if err := s.WaitReady(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, statePolling)
	cancel()
	recv(t, gone, "cancelled /next")
	waitState(t, s, stateIdle)
	done := asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: "kept", Payload: []byte(`"e"`)})
	waitState(t, s, stateQueued)
	if ev := r.next(); ev.header.Get(hdrRequestID) != "kept" || ev.body != `"e"` {
		t.Fatalf("/next = %q %q, want the queued event", ev.header.Get(hdrRequestID), ev.body)
	}
	r.respond("kept", `1`, nil)
	recv(t, done, "Invoke")
}

// TestNextGoneAfterHandoff covers the race a test over HTTP cannot force:
// Invoke hands the event to a /next whose client has just left.
func TestNextGoneAfterHandoff(t *testing.T) {
	s := New(Options{})
	s.st = statePolling
	s.mu.Lock()
	if err := s.startLocked(&Invocation{RequestID: "r"}); err != nil {
		t.Fatal(err)
	}
	s.mu.Unlock()
	s.nextGone()
	if s.st != stateQueued || len(s.wake) != 0 {
		t.Errorf("after nextGone: state %s, wake %d; want Queued, 0", s.st, len(s.wake))
	}
}

func TestStreamingResponse(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)
	next := ready(t, s, r)
	pctx := ctxTimeout(t)
	errJSON := `{"errorMessage":"stream broke","errorType":"errorString"}`
	streaming := http.Header{hdrResponseMode: {"streaming"}}
	tests := []struct {
		name       string
		hdr        http.Header
		trailer    http.Header
		wantStatus int
		wantBody   string
		wantType   string
	}{
		{"success", streaming, http.Header{hdrErrorType: nil, hdrErrorBody: nil}, 202, "chunk1chunk2", ""},
		{"error trailers", streaming, http.Header{hdrErrorType: {"Function.StreamError"}, hdrErrorBody: {base64.StdEncoding.EncodeToString([]byte(errJSON))}}, 202, errJSON, "Function.StreamError"},
		{"error trailers, invalid type", streaming, http.Header{hdrErrorType: {"errorString"}, hdrErrorBody: {base64.StdEncoding.EncodeToString([]byte(errJSON))}}, 202, errJSON, "Runtime.Unknown"},
		{"error trailers without mode", nil, http.Header{hdrErrorType: {"Runtime.Crash"}, hdrErrorBody: {base64.StdEncoding.EncodeToString([]byte(errJSON))}}, 202, errJSON, "Runtime.Crash"},
		{"bad mode", http.Header{hdrResponseMode: {"buffered"}}, nil, 400, "", "Runtime.InvalidResponseModeHeader"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "s-" + strconv.Itoa(i)
			done := asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: id})
			recv(t, next, "/next")
			rp, err := r.do(ctxTimeout(t), http.MethodPost, "invocation/"+id+"/response", chunked("chunk1chunk2"), tt.hdr, tt.trailer)
			if err != nil {
				t.Fatal(err)
			}
			if rp.status != tt.wantStatus {
				t.Errorf("status = %d %s, want %d", rp.status, rp.body, tt.wantStatus)
			}
			if tt.wantStatus == 400 && rp.body != `{"errorMessage":"Invalid function response mode","errorType":"InvalidFunctionResponseMode"}` {
				t.Errorf("400 body = %s", rp.body)
			}
			got := recv(t, done, "Invoke")
			if got.err != nil || got.res.ErrorType != tt.wantType {
				t.Errorf("Invoke = type %q err %v, want type %q", got.res.ErrorType, got.err, tt.wantType)
			}
			if tt.wantBody != "" && string(got.res.Payload) != tt.wantBody {
				t.Errorf("Invoke payload = %s, want %s", got.res.Payload, tt.wantBody)
			}
			next = r.asyncNext(pctx)
		})
	}
}

func TestRoutes(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/2018-06-01/runtime/restore/next", 404},
		{"POST", "/2018-06-01/runtime/restore/error", 404},
		{"POST", "/2020-01-01/extension/register", 404},
		{"GET", "/2020-01-01/extension/event/next", 404},
		{"POST", "/2020-01-01/extension/init/error", 404},
		{"POST", "/2020-01-01/extension/exit/error", 404},
		{"PUT", "/2022-07-01/telemetry", 404},
		{"PUT", "/2020-08-15/logs", 404},
		{"GET", "/", 404},
		{"GET", "/2018-06-01/ping", 404},
		{"GET", "/2018-06-01/runtime/invocation/next/", 404},
		{"POST", "/2018-06-01/runtime/invocation/a/b/response", 404},
		{"POST", "/2018-06-01/runtime/invocation/a/other", 404},
		{"GET", "/2019-06-01/runtime/invocation/next", 404},
		{"POST", "/2018-06-01/runtime/invocation/next", 405},
		{"GET", "/2018-06-01/runtime/invocation/a/response", 405},
		{"PUT", "/2018-06-01/runtime/invocation/a/error", 405},
		{"GET", "/2018-06-01/runtime/init/error", 405},
	}
	for _, tt := range tests {
		rp := r.mustDo(tt.method, "http://"+s.Addr()+tt.path, nil, nil)
		if rp.status != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rp.status, tt.want)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st != stateInit {
		t.Errorf("state after unrouted requests = %s, want Init", s.st)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := New(Options{})
		s.Serve(ln)
		tr := &http.Transport{}
		r := &rt{t: t, base: "http://" + s.Addr() + "/2018-06-01/runtime/", c: &http.Client{Transport: tr}}
		next := ready(t, s, r)
		for i := range 3 {
			id := strconv.Itoa(i)
			done := asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: id})
			recv(t, next, "/next")
			r.respond(id, `1`, nil)
			recv(t, done, "Invoke")
			next = r.asyncNext(context.Background())
		}
		waitState(t, s, statePolling)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		recv(t, next, "released /next")
		tr.CloseIdleConnections()
	}()
	deadline := time.Now().Add(testTimeout)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}
