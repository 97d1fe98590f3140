package iam

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/natsd"
)

const (
	testAccount = "123456789012"
	adminID     = "AKGUADMINADMINADMIN1"
	adminSecret = "admin-secret-admin-secret-admin-secret-0"
)

// startNATS starts an embedded NATS server for one test.
func startNATS(t testing.TB) jetstream.JetStream {
	t.Helper()
	conn, err := natsd.Open(t.Context(), natsd.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("natsd.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Errorf("natsd Close: %v", err)
		}
	})
	return conn.JS
}

// openStore opens a Store on js's "gust_iam" bucket, closed when t ends.
func openStore(t *testing.T, js jetstream.JetStream) *Store {
	t.Helper()
	s, err := Open(t.Context(), js, Options{
		Account: testAccount,
		Admin:   AccessKey{ID: adminID, Secret: adminSecret},
		Logger:  failOnWarn(t),
	})
	if err != nil {
		t.Fatalf("iam.Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// wantKind fails unless err is an *Error of kind.
func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	var e *Error
	if !errors.Is(err, kind) || !errors.As(err, &e) {
		t.Fatalf("error = %v, want an *iam.Error of kind %v", err, kind)
	}
}

// failOnWarn fails t on any warning the Store logs: it warns only about
// problems it swallowed.
func failOnWarn(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(warnWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type warnWriter struct{ t *testing.T }

func (w warnWriter) Write(p []byte) (int, error) {
	w.t.Errorf("iam logged: %s", p)
	return len(p), nil
}
