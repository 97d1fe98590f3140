package natsd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// externalURL is the machine's own NATS server, used when reachable.
const externalURL = "nats://127.0.0.1:4222"

func openEmbedded(t *testing.T, dir string) *Conn {
	t.Helper()
	c, err := Open(t.Context(), Options{DataDir: dir})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestEmbeddedOpensNoListener(t *testing.T) {
	before := listeningSockets(t)
	c := openEmbedded(t, t.TempDir())
	if !c.Embedded() {
		t.Fatal("Embedded() = false, want true")
	}
	addrs := map[string]net.Addr{
		"client":   c.srv.Addr(),
		"monitor":  tcpAddr(c.srv.MonitorAddr()),
		"cluster":  tcpAddr(c.srv.ClusterAddr()),
		"profiler": tcpAddr(c.srv.ProfilerAddr()),
		"gateway":  tcpAddr(c.srv.GatewayAddr()),
	}
	for name, a := range addrs {
		if a != nil {
			t.Errorf("%s listener = %v, want none", name, a)
		}
	}
	if after := listeningSockets(t); after != before {
		t.Errorf("listening TCP sockets of this process: before Open %d, after %d", before, after)
	}
	if !c.NC.IsConnected() {
		t.Error("client not connected")
	}
	if _, err := os.Stat(c.srv.StoreDir()); err != nil {
		t.Errorf("store dir: %v", err)
	}
}

func TestEmbeddedStoreDirAndSync(t *testing.T) {
	dir := t.TempDir()
	c := openEmbedded(t, dir)
	// The server keeps its files in a "jetstream" directory under StoreDir.
	if got, want := c.srv.StoreDir(), filepath.Join(dir, "nats")+string(filepath.Separator); !strings.HasPrefix(got, want) {
		t.Errorf("JetStream store dir = %q, want under %q", got, want)
	}
	cfg := c.srv.JetStreamConfig()
	if cfg == nil {
		t.Fatal("JetStream not enabled")
	}
	if !cfg.SyncAlways {
		t.Error("SyncAlways = false, want true")
	}
	if got := c.srv.Name(); got != ServerName {
		t.Errorf("server name = %q, want %q", got, ServerName)
	}
}

func TestEmbeddedPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()

	c, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	kv, err := c.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "persist", Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatalf("CreateKeyValue: %v", err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v1")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if c.srv.Running() {
		t.Fatal("embedded server still running after Close")
	}

	c2 := openEmbedded(t, dir)
	kv2, err := c2.JS.KeyValue(ctx, "persist")
	if err != nil {
		t.Fatalf("bind after reopen: %v", err)
	}
	e, err := kv2.Get(ctx, "k")
	if err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	if got := string(e.Value()); got != "v1" {
		t.Errorf("value after reopen = %q, want %q", got, "v1")
	}
}

func TestEmbeddedRequiresDataDir(t *testing.T) {
	c, err := Open(t.Context(), Options{})
	if err == nil {
		c.Close()
		t.Fatal("Open with no DataDir succeeded, want error")
	}
}

func TestServerLogRoutedToSlog(t *testing.T) {
	var buf safeBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := Open(t.Context(), Options{DataDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	out := buf.String()
	if !strings.Contains(out, "component=natsd") || !strings.Contains(out, "level=DEBUG") {
		t.Errorf("server log not routed to slog at debug; got:\n%.500s", out)
	}
	// A clean start and stop is quiet above debug.
	for line := range strings.Lines(out) {
		if !strings.Contains(line, "level=DEBUG") {
			t.Errorf("unexpected log line: %s", line)
		}
	}
}

func TestExternal(t *testing.T) {
	skipIfNoExternal(t)
	tests := []struct{ name, url string }{
		{"single", externalURL},
		{"list", " " + externalURL + " , " + externalURL + " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			c, err := Open(ctx, Options{URL: tt.url})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer c.Close()
			if c.Embedded() {
				t.Fatal("Embedded() = true for external URL")
			}
			bucket := fmt.Sprintf("gust_natsd_test_%d", time.Now().UnixNano())
			kv, err := c.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Storage: jetstream.FileStorage})
			if err != nil {
				t.Fatalf("CreateKeyValue: %v", err)
			}
			t.Cleanup(func() {
				// The connection is closed by now; use a fresh one.
				cc, err := Open(context.Background(), Options{URL: externalURL})
				if err != nil {
					t.Errorf("cleanup connect: %v", err)
					return
				}
				defer cc.Close()
				if err := cc.JS.DeleteKeyValue(context.Background(), bucket); err != nil {
					t.Errorf("cleanup delete bucket: %v", err)
				}
			})
			if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
				t.Fatalf("Put: %v", err)
			}
			e, err := kv.Get(ctx, "k")
			if err != nil || string(e.Value()) != "v" {
				t.Fatalf("Get = %v, %v; want v", e, err)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if !c.NC.IsClosed() {
				t.Error("connection not closed after Close")
			}
		})
	}
}

func TestExternalUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback is essentially never a NATS server.
	c, err := Open(ctx, Options{URL: "nats://127.0.0.1:1"})
	if err == nil {
		c.Close()
		t.Fatal("Open of unreachable URL succeeded, want error")
	}
}

func TestNormalizeURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://a:4222", "nats://a:4222"},
		{"nats://a, nats://b ,nats://c", "nats://a,nats://b,nats://c"},
		{"nats://a,,", "nats://a"},
	}
	for _, tt := range tests {
		if got := normalizeURLs(tt.in); got != tt.want {
			t.Errorf("normalizeURLs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func skipIfNoExternal(t *testing.T) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
	if err != nil {
		t.Skipf("external NATS unreachable: %v", err)
	}
	conn.Close()
}

func tcpAddr(a *net.TCPAddr) net.Addr {
	if a == nil {
		return nil
	}
	return a
}

// listeningSockets counts TCP sockets in LISTEN state owned by this process,
// by matching /proc/self/fd socket inodes against /proc/net/tcp{,6}.
func listeningSockets(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	n := 0
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local rem st tx:rx tr:when retr uid timeout inode
			if len(fields) > 9 && fields[3] == "0A" && inodes[fields[9]] {
				n++
			}
		}
		f.Close()
	}
	return n
}

// safeBuffer is a bytes.Buffer safe for the server's concurrent logging.
type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestListeningSocketsSeesListener proves the helper behind
// TestEmbeddedOpensNoListener can see a listener at all.
func TestListeningSocketsSeesListener(t *testing.T) {
	before := listeningSockets(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer ln.Close()
	if got := listeningSockets(t); got != before+1 {
		t.Errorf("listening sockets with a listener open = %d, want %d", got, before+1)
	}
}
