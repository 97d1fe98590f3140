package server

import (
	"errors"
	"fmt"
	"os"
	"time"

	"gust/internal/sandbox"
)

// probeTimeout bounds the start-up probe of the linux sandbox.
const probeTimeout = 15 * time.Second

// probeSandbox starts one trivial process in the linux sandbox, so a host
// that cannot run it (no cgroup controllers, no namespaces, a binary
// without sandbox.Init) fails at start with the way out, rather than at
// every cold start. The process sandbox needs no probe. It costs about one
// cold start's sandbox overhead (~10 ms).
func probeSandbox(kind, dataDir string) error {
	if sandbox.Kind(kind) != sandbox.KindLinux {
		return nil
	}
	if err := runProbe(dataDir); err != nil {
		return fmt.Errorf("the linux sandbox (the default as root on Linux) cannot start on this host: %w; "+
			"run with --sandbox process for the unconfined process sandbox (docs/security.md)", err)
	}
	return nil
}

func runProbe(dataDir string) error {
	exe := ""
	for _, p := range []string{"/usr/bin/true", "/bin/true"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			exe = p
			break
		}
	}
	if exe == "" {
		return errors.New("no /usr/bin/true to probe with")
	}
	dir, err := os.MkdirTemp(dataDir, "sandbox-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The function user must be able to enter it, as it does /var/task.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	p, err := sandbox.Start(sandbox.Spec{
		Argv: []string{exe}, Dir: dir, Kind: sandbox.KindLinux,
		CodeDir: dir, MemoryMB: 128, TmpMB: 1,
	})
	if err != nil {
		return err
	}
	defer p.Output.Close()
	select {
	case <-p.Done():
	case <-time.After(probeTimeout):
		p.Kill()
		return fmt.Errorf("probe process still running after %s", probeTimeout)
	}
	if err := p.Err(); err != nil {
		return fmt.Errorf("probe process: %s", sandbox.ExitDescription(err))
	}
	return nil
}
