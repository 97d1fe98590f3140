package runtimeapi

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := limitListener(inner, 2)
	defer l.Close()
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	accepted := make(chan net.Conn, 3)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted while two were open")
	case <-time.After(100 * time.Millisecond):
	}
	first.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("closing a connection did not free a place")
	}
	second.Close()
	second.Close() // a second Close must not free a second place
	l.Close()
	<-stopped // the pending Accept gives its place back
	if got := len(l.(*limitedListener).sem); got != 0 {
		t.Fatalf("%d places held after every connection closed, want 0", got)
	}
}

// A runtime that posts a second answer while the first body is still
// arriving gets 403: the server reads one answer at a time.
func TestOneAnswerReadAtATime(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)
	next := ready(t, s, r)
	done := asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: "a"})
	recv(t, next, "/next")

	// The first answer: headers and half its body, over a raw connection.
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n\"hal")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testTimeout)
	for {
		s.mu.Lock()
		reading := s.answering
		s.mu.Unlock()
		if reading {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first answer never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := r.respond("a", `"second"`, nil); got.status != 403 {
		t.Fatalf("concurrent answer = %d %s, want 403", got.status, got.body)
	}
	if _, err := c.Write([]byte("ves\"")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, done, "Invoke"); got.err != nil || string(got.res.Payload) != `"halves"` {
		t.Fatalf("Invoke = %q, %v; want the first answer", got.res.Payload, got.err)
	}
}

func TestOnDeliverRunsWhenTheRuntimeTakesTheEvent(t *testing.T) {
	s := startServer(t, Options{})
	r := newRuntime(t, s)
	next := ready(t, s, r)
	var calls atomic.Int32
	done := asyncInvoke(ctxTimeout(t), s, Invocation{RequestID: "a", OnDeliver: func() { calls.Add(1) }})
	recv(t, next, "/next")
	if n := calls.Load(); n != 1 {
		t.Fatalf("OnDeliver ran %d times by the time /next answered, want 1", n)
	}
	r.respond("a", `1`, nil)
	recv(t, done, "Invoke")

	// An event that is never taken never reports delivery.
	ctx, cancel := context.WithCancel(context.Background())
	queued := asyncInvoke(ctx, s, Invocation{RequestID: "b", OnDeliver: func() { calls.Add(1) }})
	waitState(t, s, stateQueued)
	cancel()
	recv(t, queued, "Invoke")
	if n := calls.Load(); n != 1 {
		t.Fatalf("OnDeliver ran for an event never taken (%d calls)", n)
	}
}
