package config

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults rejected: %v", err)
	}
	if !strings.HasSuffix(c.DataDir, ".gust") || !strings.HasPrefix(c.DataDir, "/") {
		t.Fatalf("DataDir = %q, want an absolute path ending in .gust", c.DataDir)
	}
}

func TestDefaultSandbox(t *testing.T) {
	want := "process"
	if runtime.GOOS == "linux" && os.Geteuid() == 0 {
		want = "linux"
	}
	if got := Defaults().Sandbox; got != want {
		t.Errorf("default sandbox on %s as uid %d = %q, want %q", runtime.GOOS, os.Geteuid(), got, want)
	}
	c := Defaults()
	c.Sandbox = "process" // the opt-out is valid everywhere
	if err := c.Validate(); err != nil {
		t.Errorf("--sandbox process rejected: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Server)
		want   string
	}{
		{"account letters", func(c *Server) { c.AccountID = "00000000000a" }, "account id"},
		{"account short", func(c *Server) { c.AccountID = "123" }, "account id"},
		{"region", func(c *Server) { c.Region = "mars" }, "region"},
		{"listen", func(c *Server) { c.Listen = "9001" }, "listen"},
		{"concurrency", func(c *Server) { c.MaxConcurrency = 0 }, "concurrency"},
		{"idle", func(c *Server) { c.IdleTimeout = 0 }, "idle"},
		{"init", func(c *Server) { c.InitTimeout = -time.Second }, "timeouts"},
		{"log bytes", func(c *Server) { c.LogRetentionBytes = 10 }, "log bytes"},
		{"sandbox", func(c *Server) { c.Sandbox = "vm" }, "sandbox"},
		{"half a key pair", func(c *Server) { c.AccessKeyID, c.SecretAccessKey = "AKID", "" }, "both"},
	}
	for _, tt := range tests {
		c := Defaults()
		tt.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
}
