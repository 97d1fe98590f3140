package server_test

// Many idle keep-alive connections to function URLs: they cost the server
// one goroutine each, do not stop it serving, and are all released when
// the clients go away.

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/gusttest"
)

// idleConnsEnv overrides how many connections the test holds open
// (default 2,000, which keeps CI quick). Each costs two descriptors in the
// test process, client side and server side, so 10,000 needs a descriptor
// limit above 20,000: ulimit -n 25000; GUST_TEST_URL_CONNS=10000 go test
// -run TestFunctionURLIdleConnections ./internal/server/. It behaves the
// same, only slower.
const idleConnsEnv = "GUST_TEST_URL_CONNS"

func idleConns(t *testing.T) int {
	n := 2000
	if v := os.Getenv(idleConnsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", idleConnsEnv, v)
		}
	}
	return n
}

// TestFunctionURLIdleConnections is not parallel: it counts the process's
// goroutines, which other tests' servers would disturb.
func TestFunctionURLIdleConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("does not depend on the sandbox; the full run covers it")
	}
	r := newURLRig(t)
	r.createEcho(t, "idle")
	id := r.createURL(t, "idle", "", types.FunctionUrlAuthTypeNone, nil)
	r.allowPublic(t, "idle", "")
	wantStatus(t, "warm-up", r.get(t, r.hostURL(id, "/bare")), http.StatusOK, `{"hello":"world","n":1}`)
	r.byHost.Transport.(*http.Transport).CloseIdleConnections()
	base := runtime.NumGoroutine()

	// Each connection makes one keep-alive request (an unknown URL id, so
	// no invocation) and then stays open, idle.
	request := "GET /_gust/url/" + strings.Repeat("0", 32) + "/ HTTP/1.1\r\nHost: " + r.addr + "\r\n\r\n"
	idleConns := idleConns(t)
	conns := make([]net.Conn, idleConns)
	t.Cleanup(func() { closeAll(conns) })
	var wg sync.WaitGroup
	errs := make(chan error, idleConns)
	const workers = 16
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < idleConns; i += workers {
				c, err := openIdle(r.addr, request)
				if err != nil {
					errs <- err
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("open idle connection: %v", err)
	}
	n := runtime.NumGoroutine()
	t.Logf("%d goroutines with %d idle connections open, %d before", n, idleConns, base)
	if n < base+idleConns*9/10 {
		t.Errorf("the server is not holding the idle connections")
	}

	// The server still serves, and invokes, with all of them open.
	wantStatus(t, "with idle connections open", r.get(t, r.hostURL(id, "/bare")), http.StatusOK, `{"hello":"world","n":1}`)
	r.byHost.Transport.(*http.Transport).CloseIdleConnections()

	closeAll(conns)
	gusttest.WaitFor(t, 30*time.Second, "the server's connection goroutines to end", func() bool {
		return runtime.NumGoroutine() <= base+20
	})
}

// openIdle dials addr, sends one request, reads the whole reply and
// returns the still-open connection.
func openIdle(addr, request string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && (resp.StatusCode != http.StatusNotFound || resp.Close) {
		err = &unexpectedReply{resp.Status, resp.Close}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

type unexpectedReply struct {
	status string
	closed bool
}

func (e *unexpectedReply) Error() string {
	return "reply " + e.status + ", want 404 on a connection kept alive (closed: " + map[bool]string{true: "yes", false: "no"}[e.closed] + ")"
}

func closeAll(conns []net.Conn) {
	for i, c := range conns {
		if c != nil {
			c.Close()
			conns[i] = nil
		}
	}
}
