//go:build linux

package server_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/vishvananda/netlink"

	"gust/internal/gusttest"
)

// This file tests the linux sandbox's networking through a whole server:
// functions reach the host's loopback and other addresses, and no
// environment reaches another's Runtime API.

const sandboxNetPy = `
import json, os, socket

def fetch(target, path):
    host, port = target.rsplit(":", 1)
    try:
        s = socket.create_connection((host, int(port)), timeout=3)
        s.settimeout(3)
        s.sendall(("GET " + path + " HTTP/1.0\r\nHost: x\r\n\r\n").encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")
    except OSError as e:
        return "ERR " + (type(e).__name__ if e.errno is None else os.strerror(e.errno))

def own_address():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("203.0.113.1", 9))  # no packet is sent: routing picks the source
    return s.getsockname()[0]

def probe(event, context):
    return {"api": os.environ["AWS_LAMBDA_RUNTIME_API"], "addr": own_address(), "event": event,
            "got": {t: fetch(t, event.get("path", "/")) for t in event.get("targets", [])}}
`

// netTarget serves body over HTTP on addr and counts requests.
func netTarget(t *testing.T, addr, body string) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.WriteString(w, body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), &n
}

// nonLoopbackAddr is an IPv4 address of this host other than loopback
// (and Gust's own veths), "" if there is none.
func nonLoopbackAddr() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.To4() == nil || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() {
			continue
		}
		if ip := n.IP.To4(); ip[0] == 198 && (ip[1] == 18 || ip[1] == 19) {
			continue
		}
		return n.IP.String()
	}
	return ""
}

// probeResult is what sandboxNetPy's probe returns.
type probeResult struct {
	API   string            `json:"api"`
	Addr  string            `json:"addr"`
	Event json.RawMessage   `json:"event"`
	Got   map[string]string `json:"got"`
}

// hostVeth is the host end of the veth of the environment with address
// addr (198.18.0.0/16, one /30 per environment: gust<index>).
func hostVeth(t *testing.T, addr string) string {
	t.Helper()
	a, err := netip.ParseAddr(addr)
	if err != nil || !netip.MustParsePrefix("198.18.0.0/16").Contains(a) {
		t.Fatalf("environment address %q is not in 198.18.0.0/16", addr)
	}
	b := a.As4()
	return "gust" + strconv.Itoa((int(b[2])<<8|int(b[3]))/4)
}

func TestLinuxSandboxNetwork(t *testing.T) {
	srv := linuxSandboxServer(t) // skips unless root, cgroups and python3
	c := srv.Lambda()
	py := gusttest.Zip(t, map[string]string{"app.py": sandboxNetPy})
	for _, name := range []string{"net", "victim", "attacker"} {
		createFunction(t, c, name, types.RuntimePython312, "app.probe", py, withTimeout(15))
	}
	invoke := func(t *testing.T, name string, event any) probeResult {
		t.Helper()
		b, _ := json.Marshal(event)
		inv := invokeTail(t, c, name, string(b))
		mustSucceed(t, inv)
		return decode[probeResult](t, inv.Payload)
	}
	var veths []string

	t.Run("outbound", func(t *testing.T) {
		lo, loHits := netTarget(t, "127.0.0.1:0", "host-loopback")
		targets := []string{lo}
		want := map[string]string{lo: "host-loopback"}
		if a := nonLoopbackAddr(); a != "" {
			ext, _ := netTarget(t, net.JoinHostPort(a, "0"), "host-address")
			targets = append(targets, ext)
			want[ext] = "host-address"
		} else {
			t.Log("no non-loopback address on this host: only loopback tested")
		}
		got := invoke(t, "net", map[string]any{"targets": targets})
		for target, w := range want {
			if !strings.HasSuffix(got.Got[target], "\r\n\r\n"+w) {
				t.Errorf("GET %s from a function: %q, want body %q", target, got.Got[target], w)
			}
		}
		if loHits.Load() != 1 {
			t.Errorf("host loopback server got %d requests, want 1", loHits.Load())
		}
		if got.API != "127.0.0.1:9001" {
			t.Errorf("AWS_LAMBDA_RUNTIME_API = %q, want 127.0.0.1:9001 (inside the environment)", got.API)
		}
		veths = append(veths, hostVeth(t, got.Addr))
	})

	t.Run("runtime api is private", func(t *testing.T) {
		// The victim tells where its Runtime API and environment are.
		v := invoke(t, "victim", map[string]any{})
		veths = append(veths, hostVeth(t, v.Addr))
		// The attacker, in another environment, asks both for the
		// victim's next event while the victim gets events of its own.
		next := "/2018-06-01/runtime/invocation/next"
		targets := []string{v.API, net.JoinHostPort(v.Addr, "9001")}
		var wg sync.WaitGroup
		var attack probeResult
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(map[string]any{"targets": targets, "path": next})
			inv := invokeTail(t, c, "attacker", string(b))
			if inv.StatusCode != 200 || inv.FunctionError != nil {
				t.Errorf("attacker: status %d, %s", inv.StatusCode, inv.Payload)
				return
			}
			if err := json.Unmarshal(inv.Payload, &attack); err != nil {
				t.Errorf("attacker payload: %v", err)
			}
		}()
		for i := range 3 {
			secret := "secret-" + strconv.Itoa(i)
			got := invoke(t, "victim", map[string]any{"secret": secret})
			if !strings.Contains(string(got.Event), secret) {
				t.Errorf("victim invocation %d got event %s, want its own", i, got.Event)
			}
		}
		wg.Wait()
		for _, target := range targets {
			res, ok := attack.Got[target]
			if !ok {
				t.Errorf("attacker did not try %s", target)
				continue
			}
			if strings.Contains(res, "secret") || strings.Contains(res, "Lambda-Runtime-Aws-Request-Id") {
				t.Errorf("attacker took an invocation from %s: %q", target, res)
			}
			t.Logf("attacker GET %s%s: %.120q", target, next, res)
		}
		if attack.Addr == v.Addr {
			t.Errorf("attacker and victim share the address %s", v.Addr)
		}
		if a := netip.MustParseAddr(v.Addr); a.IsLoopback() {
			t.Errorf("victim's address %s is loopback", a)
		}
		veths = append(veths, hostVeth(t, attack.Addr))
	})

	t.Run("cleanup", func(t *testing.T) {
		for _, name := range veths {
			if _, err := netlink.LinkByName(name); err != nil {
				t.Errorf("veth %s of a live environment: %v", name, err)
			}
		}
		srv.Stop()
		// The kernel deletes each pair with its namespace, shortly after
		// the environment's processes and Runtime API listener are gone.
		gusttest.WaitFor(t, 10*time.Second, "veths deleted after shutdown", func() bool {
			for _, name := range veths {
				if _, err := netlink.LinkByName(name); err == nil {
					return false
				}
			}
			return true
		})
	})
}
