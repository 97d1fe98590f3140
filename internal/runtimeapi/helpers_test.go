package runtimeapi

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testTimeout bounds every wait in the tests.
const testTimeout = 10 * time.Second

// startServer serves a new Server on a random loopback port and closes it
// when the test ends.
func startServer(t testing.TB, opts Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := New(opts)
	s.Serve(ln)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// rt is a minimal runtime client: what a runtime does, over real HTTP.
type rt struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newRuntime(t testing.TB, s *Server) *rt {
	tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &rt{t: t, base: "http://" + s.Addr() + "/2018-06-01/runtime/", c: &http.Client{Transport: tr}}
}

// resp is a response read whole.
type resp struct {
	status int
	header http.Header
	body   string
}

func (r *rt) do(ctx context.Context, method, path string, body io.Reader, hdr http.Header, trailer http.Header) (resp, error) {
	req, err := http.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return resp{}, err
	}
	if !strings.HasPrefix(path, "http") {
		req.URL, err = req.URL.Parse(r.base + path)
		if err != nil {
			return resp{}, err
		}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if trailer != nil {
		req.Trailer = trailer
		req.ContentLength = -1
	}
	res, err := r.c.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, err
	}
	return resp{status: res.StatusCode, header: res.Header, body: string(b)}, nil
}

func (r *rt) mustDo(method, path string, body io.Reader, hdr http.Header) resp {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	res, err := r.do(ctx, method, path, body, hdr, nil)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	return res
}

func (r *rt) next() resp { r.t.Helper(); return r.mustDo(http.MethodGet, "invocation/next", nil, nil) }

func (r *rt) respond(id, body string, hdr http.Header) resp {
	r.t.Helper()
	return r.mustDo(http.MethodPost, "invocation/"+id+"/response", strings.NewReader(body), hdr)
}

func (r *rt) fail(id, body string, hdr http.Header) resp {
	r.t.Helper()
	return r.mustDo(http.MethodPost, "invocation/"+id+"/error", strings.NewReader(body), hdr)
}

// chunked is a body of unknown length, so the client sends it chunked.
func chunked(s string) io.Reader { return io.MultiReader(bytes.NewReader([]byte(s))) }

// asyncNext starts a GET /next and returns a channel with its response.
func (r *rt) asyncNext(ctx context.Context) <-chan resp {
	ch := make(chan resp, 1)
	go func() {
		res, err := r.do(ctx, http.MethodGet, "invocation/next", nil, nil, nil)
		if err != nil {
			res = resp{status: -1, body: err.Error()}
		}
		ch <- res
	}()
	return ch
}

// invokeResult is what an asynchronous Invoke returned.
type invokeResult struct {
	res Result
	err error
}

func asyncInvoke(ctx context.Context, s *Server, inv Invocation) <-chan invokeResult {
	ch := make(chan invokeResult, 1)
	go func() {
		res, err := s.Invoke(ctx, inv)
		ch <- invokeResult{res, err}
	}()
	return ch
}

// waitState polls until s is in want (bounded).
func waitState(t testing.TB, s *Server, want state) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		s.mu.Lock()
		got := s.st
		s.mu.Unlock()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state = %s, want %s", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func ctxTimeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// ready brings s to Polling with a /next waiting, and returns that /next.
func ready(t testing.TB, s *Server, r *rt) <-chan resp {
	t.Helper()
	ch := r.asyncNext(ctxTimeout(t))
	if err := s.WaitReady(ctxTimeout(t)); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	waitState(t, s, statePolling)
	return ch
}
