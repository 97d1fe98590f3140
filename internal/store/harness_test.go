package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"gust/internal/lambda"
	"gust/internal/natsd"
)

// externalAddr is the machine's own NATS server (JetStream enabled). Tests
// against it skip when it is unreachable.
const externalAddr = "127.0.0.1:4222"

// backend is one kind of JetStream a Store runs on. Every conformance case
// runs against each backend.
type backend struct {
	name string
	// newEnv returns a fresh, private namespace on the backend, cleaned up
	// when t ends.
	newEnv func(t *testing.T) *env
}

var backends = []backend{
	{name: "embedded", newEnv: newEmbeddedEnv},
	{name: "external", newEnv: newExternalEnv},
}

// TestConformance runs every case of the suite against every backend.
func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range conformanceCases {
				t.Run(c.name, func(t *testing.T) {
					c.run(t, b.newEnv(t))
				})
			}
		})
	}
}

// env is one test's view of a backend: a connection and a Store on a
// namespace nobody else uses. reopen closes both and opens them again on
// the same data, as a restarted node would.
type env struct {
	t      *testing.T
	opts   natsd.Options
	prefix string
	conn   *natsd.Conn
	s      *Store
}

func newEmbeddedEnv(t *testing.T) *env {
	e := &env{t: t, opts: natsd.Options{DataDir: t.TempDir()}, prefix: "gust"}
	t.Cleanup(e.close)
	e.reopen()
	return e
}

func newExternalEnv(t *testing.T) *env {
	conn, err := net.DialTimeout("tcp", externalAddr, time.Second)
	if err != nil {
		t.Skipf("external NATS unreachable: %v", err)
	}
	conn.Close()
	e := &env{
		t:      t,
		opts:   natsd.Options{URL: "nats://" + externalAddr},
		prefix: fmt.Sprintf("gusttest_%d", time.Now().UnixNano()),
	}
	t.Cleanup(func() {
		e.close()
		deleteBuckets(t, e.opts, e.prefix)
	})
	e.reopen()
	return e
}

// reopen (re)connects and (re)opens the Store, closing the previous ones.
func (e *env) reopen() *Store {
	e.t.Helper()
	e.close()
	conn, err := natsd.Open(e.t.Context(), e.opts)
	if err != nil {
		e.t.Fatalf("natsd.Open: %v", err)
	}
	s, err := Open(e.t.Context(), conn.JS, Options{Prefix: e.prefix, Logger: failOnWarn(e.t)})
	if err != nil {
		conn.Close()
		e.t.Fatalf("store.Open: %v", err)
	}
	e.conn, e.s = conn, s
	return s
}

func (e *env) close() {
	if e.s != nil {
		if err := e.s.Close(); err != nil {
			e.t.Errorf("store Close: %v", err)
		}
		e.s = nil
	}
	if e.conn != nil {
		if err := e.conn.Close(); err != nil {
			e.t.Errorf("natsd Close: %v", err)
		}
		e.conn = nil
	}
}

// deleteBuckets removes an external test's buckets through a fresh
// connection (the test's own is closed by now).
func deleteBuckets(t *testing.T, opts natsd.Options, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := natsd.Open(ctx, opts)
	if err != nil {
		t.Errorf("cleanup connect: %v", err)
		return
	}
	defer conn.Close()
	if err := conn.JS.DeleteKeyValue(ctx, prefix+"_functions"); err != nil {
		t.Errorf("cleanup delete KV bucket: %v", err)
	}
	if err := conn.JS.DeleteObjectStore(ctx, prefix+"_code"); err != nil {
		t.Errorf("cleanup delete object store: %v", err)
	}
}

// newFunction returns a valid $LATEST function with code sha.
func newFunction(name, sha string) *lambda.Function {
	fn := &lambda.Function{
		Name:         name,
		Runtime:      "python3.12",
		Handler:      "app.handler",
		Role:         "arn:aws:iam::123456789012:role/test",
		Environment:  map[string]string{"A": "1"},
		CodeSha256:   sha,
		CodeSize:     3,
		LastModified: time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
		RevisionID:   "rev-1",
	}
	fn.ApplyDefaults()
	return fn
}

// newCode returns n random bytes and their CodeSha256.
func newCode(t *testing.T, n int) ([]byte, string) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return b, base64.StdEncoding.EncodeToString(sum[:])
}

func mustCreate(t *testing.T, s *Store, fn *lambda.Function) {
	t.Helper()
	if err := s.CreateFunction(t.Context(), fn); err != nil {
		t.Fatalf("CreateFunction(%s): %v", fn.Name, err)
	}
}

func mustPutCode(t *testing.T, s *Store, n int) ([]byte, string) {
	t.Helper()
	zip, sha := newCode(t, n)
	if err := s.PutCode(t.Context(), sha, zip); err != nil {
		t.Fatalf("PutCode: %v", err)
	}
	return zip, sha
}

// failOnWarn returns a logger that fails t on any warning or error: the
// Store logs only problems it swallowed, such as a failed code collection.
func failOnWarn(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(warnWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type warnWriter struct{ t *testing.T }

func (w warnWriter) Write(p []byte) (int, error) {
	w.t.Errorf("store logged: %s", p)
	return len(p), nil
}
