//go:build linux

package sandbox

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestKillTakesTheWholeGroup(t *testing.T) {
	// The shell starts a grandchild and prints its pid, then both sleep.
	p, err := Start(Spec{Argv: []string{"/bin/sh", "-c", "sleep 300 & echo $!; wait"}, Dir: t.TempDir(), Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(p.Output).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	p.Kill()
	if !errors.Is(p.Err(), ErrKilled) {
		t.Fatalf("Err = %v, want ErrKilled", p.Err())
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(child, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d survived Kill", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Kill() // idempotent
}

func TestExitIsReported(t *testing.T) {
	p, err := Start(Spec{Argv: []string{"/bin/sh", "-c", "exit 3"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if got := ExitDescription(p.Err()); got != "exit status 3" {
		t.Fatalf("ExitDescription = %q", got)
	}
}

func TestStartMissingExecutable(t *testing.T) {
	_, err := Start(Spec{Argv: []string{"/nonexistent/bootstrap"}, Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("err = %v", err)
	}
}

func TestSampleMemorySeesTheTree(t *testing.T) {
	// A child that allocates ~64 MB, touched so it is resident.
	script := `import time; b = bytearray(64 << 20); print("ready", flush=True); time.sleep(60)`
	p, err := Start(Spec{Argv: []string{"/bin/sh", "-c", "/usr/bin/python3 -c '" + script + "'"}, Dir: t.TempDir()})
	if err != nil {
		t.Skipf("no python: %v", err)
	}
	defer p.Kill()
	if _, err := bufio.NewReader(p.Output).ReadString('\n'); err != nil {
		t.Skipf("python did not start: %v", err)
	}
	if got := p.SampleMemory(); got < 64<<20 {
		t.Fatalf("SampleMemory = %d, want at least 64 MiB", got)
	}
}

func TestParseStatusHWM(t *testing.T) {
	if got := readHWM(syscall.Getpid()); got <= 0 {
		t.Fatalf("readHWM(self) = %d", got)
	}
	if got := readHWM(1 << 30); got != 0 {
		t.Fatalf("readHWM(missing) = %d", got)
	}
}

func TestFunctionsAreOOMVictimsFirst(t *testing.T) {
	p, err := Start(Spec{Argv: []string{"/bin/sh", "-c", "sleep 30"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	// Start sets the score before it returns; children inherit it.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.Pid()) + "/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != "1000" {
		t.Fatalf("oom_score_adj = %q, want 1000", got)
	}
}
