package cli

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestServerInfoRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	want := serverInfo{Endpoint: "http://127.0.0.1:9001", Region: "us-east-1", AccountID: "000000000000",
		AccessKeyID: "AKIDGUST", SecretAccessKey: "s3cr3t", PID: 123}
	if err := writeServerInfo(dir, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "server.json"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("server.json mode %v, want 0600", perm)
	}
	got, err := readServerInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only server.json", len(entries))
	}
}

func TestRemoveServerInfoOnlyOwn(t *testing.T) {
	dir := t.TempDir()
	if err := writeServerInfo(dir, serverInfo{Endpoint: "http://x", PID: 7}); err != nil {
		t.Fatal(err)
	}
	if err := removeServerInfo(dir, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := readServerInfo(dir); err != nil {
		t.Fatalf("another pid's server.json was removed: %v", err)
	}
	if err := removeServerInfo(dir, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := readServerInfo(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("own server.json still there: %v", err)
	}
	if err := removeServerInfo(dir, 7); err != nil {
		t.Errorf("removing twice: %v", err)
	}
}
