//go:build linux

package sandbox

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// netProbe is a Python script that prints one line per target: "<target>
// <first line of the HTTP reply>" or "<target> ERR <errno name>".
const netProbe = `
import os, socket, sys, errno
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        s = socket.create_connection((host, int(port)), timeout=3)
        s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.0\r\nHost: x\r\n\r\n")
        s.settimeout(3)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        body = data.split(b"\r\n\r\n", 1)[-1].decode() or data.decode().splitlines()[0]
        print(target, body.strip())
    except OSError as e:
        print(target, "ERR", errno.errorcode.get(e.errno, str(e)) if e.errno else type(e).__name__)
`

// needPython skips without /usr/bin/python3.
func needPython(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
}

// serveText serves body over HTTP on ln, until the test ends or stop is
// called, and counts the requests.
func serveText(t testing.TB, ln net.Listener, body string) (hits *atomic.Int64, stop func()) {
	t.Helper()
	var n atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.WriteString(w, body)
	})}
	go srv.Serve(ln)
	stop = func() { srv.Close() }
	t.Cleanup(stop)
	return &n, stop
}

// hostAddr is a non-loopback IPv4 address of this host, "" if none.
func hostAddr() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !envNetRange.Contains(mustAddr(n.IP)) {
			return n.IP.String()
		}
	}
	return ""
}

// results parses netProbe's output.
func results(out string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if target, res, ok := strings.Cut(sc.Text(), " "); ok {
			m[target] = res
		}
	}
	return m
}

func TestLinuxNetwork(t *testing.T) {
	needLinuxSandbox(t)
	needPython(t)
	mounts := mountCount(t)

	// Services of the host: one on loopback only, one on another address.
	lo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	loHits, _ := serveText(t, lo, "host-loopback")
	targets := []string{lo.Addr().String(), "$AWS_LAMBDA_RUNTIME_API"}
	if a := hostAddr(); a != "" {
		ext, err := net.Listen("tcp", a+":0")
		if err != nil {
			t.Fatal(err)
		}
		serveText(t, ext, "host-address")
		targets = append(targets, ext.Addr().String())
	} else {
		t.Log("no non-loopback host address: only loopback is tested")
	}

	var (
		rapiHits *atomic.Int64
		rapiStop func()
	)
	code := codeDir(t, map[string]string{"probe.py": netProbe})
	spec := Spec{
		CodeDir:    code,
		Env:        []string{"PATH=/usr/bin:/bin"},
		RuntimeAPI: func(ln net.Listener) { rapiHits, rapiStop = serveText(t, ln, "own-runtime-api") },
	}
	out, p := runShell(t, spec, `echo "api=$AWS_LAMBDA_RUNTIME_API"; exec /usr/bin/python3 /var/task/probe.py `+strings.Join(targets, " "))
	if p.Err() != nil {
		t.Fatalf("probe: %v\n%s", p.Err(), out)
	}
	if !strings.Contains(out, "api="+runtimeAPIAddr+"\n") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API: output %q, want %s", out, runtimeAPIAddr)
	}
	got := results(out)
	want := map[string]string{lo.Addr().String(): "host-loopback", runtimeAPIAddr: "own-runtime-api"}
	if len(targets) == 3 {
		want[targets[2]] = "host-address"
	}
	for target, w := range want {
		if got[target] != w {
			t.Errorf("%s from the environment: %q, want %q (output:\n%s)", target, got[target], w, out)
		}
	}
	if loHits.Load() != 1 || rapiHits.Load() != 1 {
		t.Errorf("requests: host loopback %d, runtime api %d; want 1 each", loHits.Load(), rapiHits.Load())
	}
	if p.cleanupErr != nil {
		t.Errorf("cleanup: %v", p.cleanupErr)
	}
	// The namespace, and with it the veth pair, goes once the Runtime
	// API listener is closed too.
	rapiStop()
	waitGone(t, p.network.(*envNet).link.Attrs().Name)
	assertClean(t, mounts)
}

// TestLinuxRuntimeAPIIsPrivate starts two environments: neither the host
// nor the other environment reaches an environment's Runtime API.
func TestLinuxRuntimeAPIIsPrivate(t *testing.T) {
	needLinuxSandbox(t)
	needPython(t)
	code := codeDir(t, map[string]string{"probe.py": netProbe})
	var aHits *atomic.Int64
	a, err := Start(Spec{
		Kind: KindLinux, Argv: []string{"/bin/sleep", "60"}, Dir: code, CodeDir: code,
		RuntimeAPI: func(ln net.Listener) { aHits, _ = serveText(t, ln, "env-a") },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Kill()
	defer a.Output.Close()
	aAddr := a.network.(*envNet).addr

	// From the host: 127.0.0.1:9001 is not a's listener.
	if c, err := net.DialTimeout("tcp", runtimeAPIAddr, time.Second); err == nil {
		c.Close()
		// Something else on the host may listen on 9001; it must not be a.
		resp, err := http.Get("http://" + runtimeAPIAddr + "/")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) == "env-a" {
				t.Errorf("the host reached environment a's Runtime API")
			}
		}
	}
	if c, err := net.DialTimeout("tcp", aAddr+":9001", time.Second); err == nil {
		c.Close()
		t.Errorf("the host connected to %s:9001", aAddr)
	}

	// From environment b: its own 127.0.0.1:9001, and a's address.
	out, p := runShell(t, Spec{
		CodeDir:    code,
		Env:        []string{"PATH=/usr/bin:/bin"},
		RuntimeAPI: func(ln net.Listener) { serveText(t, ln, "env-b") },
	}, "exec /usr/bin/python3 /var/task/probe.py "+runtimeAPIAddr+" "+aAddr+":9001")
	if p.Err() != nil {
		t.Fatalf("probe: %v\n%s", p.Err(), out)
	}
	got := results(out)
	if got[runtimeAPIAddr] != "env-b" {
		t.Errorf("b's %s: %q, want its own Runtime API (output:\n%s)", runtimeAPIAddr, got[runtimeAPIAddr], out)
	}
	if !strings.HasPrefix(got[aAddr+":9001"], "ERR") {
		t.Errorf("b reached a's address %s:9001: %q", aAddr, got[aAddr+":9001"])
	}
	if n := aHits.Load(); n != 0 {
		t.Errorf("environment a's Runtime API got %d requests, want 0", n)
	}
}

// TestLinuxNetworkCleanup checks that the host rules go with the last
// environment (unless another Gust process on the host still has some).
func TestLinuxNetworkCleanup(t *testing.T) {
	needLinuxSandbox(t)
	code := codeDir(t, nil)
	p, err := Start(Spec{Kind: KindLinux, Argv: []string{"/bin/sleep", "60"}, Dir: code, CodeDir: code})
	if err != nil {
		t.Fatal(err)
	}
	name := p.network.(*envNet).link.Attrs().Name
	if _, err := netlink.LinkByName(name); err != nil {
		t.Fatalf("veth %s while the environment runs: %v", name, err)
	}
	if !hostTableExists(t) {
		t.Errorf("no nftables table %s while an environment runs", hostTable)
	}
	p.Kill()
	p.Output.Close()
	if p.cleanupErr != nil {
		t.Errorf("cleanup: %v", p.cleanupErr)
	}
	waitGone(t, name)
	if othersUseHostNet(t) {
		t.Log("another process holds the host network lock: table removal not checked")
		return
	}
	if hostTableExists(t) {
		t.Errorf("nftables table %s left after the last environment", hostTable)
	}
	for _, f := range []string{hostNetForwarding, hostNetLock} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s left after the last environment", f)
		}
	}
}

// waitGone waits (bounded) until the host has no interface name: the
// kernel deletes an environment's veth pair with its namespace,
// asynchronously.
func waitGone(t testing.TB, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := netlink.LinkByName(name); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("veth %s still there 10 s after its environment ended", name)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// othersUseHostNet reports whether another process holds the lock.
func othersUseHostNet(t testing.TB) bool {
	f, err := os.Open(hostNetLock)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return true
	}
	return false
}

func mustAddr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip.To4())
	return a
}

// hostTableExists reports whether the host's nftables table is there.
func hostTableExists(t testing.TB) bool {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name == hostTable {
			return true
		}
	}
	return false
}
