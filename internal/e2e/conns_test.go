package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// holdConns is the `holdconns N HOLD CHECK` script command: it opens N
// keep-alive connections to the script's server, each having made one
// request to path HOLD (so the server holds them as idle keep-alive
// connections, not half-open sockets), then checks that a fresh request
// to path CHECK answers 200 while all N are held, and closes them. CHECK
// written @FILE is read from FILE in the script's work dir.
func holdConns(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: holdconns N HOLD CHECK")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		ts.Fatalf("holdconns: N = %q", args[0])
	}
	check := args[2]
	if name, ok := strings.CutPrefix(check, "@"); ok {
		check = strings.TrimSpace(ts.ReadFile(name))
	}
	addr := "127.0.0.1:" + ts.Getenv("PORT")
	req := "GET " + args[1] + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			ts.Fatalf("holdconns: connection %d: %v", i+1, err)
		}
		conns = append(conns, c)
		if err := keepAliveRequest(c, req); err != nil {
			ts.Fatalf("holdconns: request on connection %d: %v", i+1, err)
		}
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get("http://" + addr + check)
	if err != nil {
		ts.Fatalf("holdconns: request while holding %d connections: %v", n, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		ts.Fatalf("holdconns: request while holding %d connections: status %d", n, resp.StatusCode)
	}
	fmt.Fprintf(ts.Stdout(), "held %d keep-alive connections; a new request answered %d\n", n, resp.StatusCode)
}

// keepAliveRequest sends one HTTP/1.1 request on c and reads the whole
// response, leaving the connection open and idle.
func keepAliveRequest(c net.Conn, req string) error {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}
