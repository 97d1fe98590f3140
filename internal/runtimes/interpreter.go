package runtimes

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// probeTimeout bounds the one-off run of an interpreter that asks it for its
// real path and version.
const probeTimeout = 10 * time.Second

// interpreter resolves one language's executable once, on first use.
type interpreter struct {
	path  string // as configured; "" means look it up on PATH
	probe func(found string) (string, error)

	once sync.Once
	exe  string
	err  error
}

func (i *interpreter) resolve() (string, error) {
	i.once.Do(func() { i.exe, i.err = i.probe(i.path) })
	return i.exe, i.err
}

// lookup finds the configured or default executable; flag and name feed the
// error message.
func lookup(configured, name, pkg, flag string) (string, error) {
	if configured == "" {
		found, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("no `%s` executable found on PATH (install %s or start gust with %s PATH)", name, pkg, flag)
		}
		return found, nil
	}
	found, err := exec.LookPath(configured)
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err
		}
		return "", fmt.Errorf("%s %s: %w (install %s or start gust with %s PATH)", flag, configured, err, pkg, flag)
	}
	return found, nil
}

// ask runs exe with args and returns its trimmed stdout lines.
func ask(exe string, args ...string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return nil, fmt.Errorf("run %s: %w: %s", exe, err, strings.TrimSpace(string(ee.Stderr)))
		}
		return nil, fmt.Errorf("run %s: %w", exe, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n"), nil
}

// realPath picks the interpreter's own report of its path when it is
// absolute, falling back to the path that was found.
func realPath(reported, found string) string {
	reported = strings.TrimSpace(reported)
	if filepath.IsAbs(reported) {
		return reported
	}
	if abs, err := filepath.Abs(found); err == nil {
		return abs
	}
	return found
}

// parseVersion reads "major.minor[.patch]" (an optional leading v).
func parseVersion(s string) (major, minor int, err error) {
	parts := strings.SplitN(strings.TrimPrefix(strings.TrimSpace(s), "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("parse version %q", s)
	}
	if major, err = strconv.Atoi(parts[0]); err != nil {
		return 0, 0, fmt.Errorf("parse version %q: %w", s, err)
	}
	if minor, err = strconv.Atoi(parts[1]); err != nil {
		return 0, 0, fmt.Errorf("parse version %q: %w", s, err)
	}
	return major, minor, nil
}

func probeNode(configured string) (string, error) {
	found, err := lookup(configured, "node", "nodejs", "--node")
	if err != nil {
		return "", err
	}
	lines, err := ask(found, "-p", `process.execPath + "\n" + process.versions.node`)
	if err != nil {
		return "", err
	}
	if len(lines) < 2 {
		return "", fmt.Errorf("%s did not report its path and version", found)
	}
	major, _, err := parseVersion(lines[1])
	if err != nil {
		return "", fmt.Errorf("%s: %w", found, err)
	}
	if major < 18 {
		return "", fmt.Errorf("%s is Node.js %s; Gust's bootstrap needs 18 or newer (start gust with --node PATH)", found, lines[1])
	}
	return realPath(lines[0], found), nil
}

func probePython(configured string) (string, error) {
	found, err := lookup(configured, "python3", "python3", "--python")
	if err != nil {
		return "", err
	}
	lines, err := ask(found, "-c", "import sys;print(sys.executable);print('%d.%d.%d' % sys.version_info[:3])")
	if err != nil {
		return "", err
	}
	if len(lines) < 2 {
		return "", fmt.Errorf("%s did not report its path and version", found)
	}
	major, minor, err := parseVersion(lines[1])
	if err != nil {
		return "", fmt.Errorf("%s: %w", found, err)
	}
	if major != 3 || minor < 8 {
		return "", fmt.Errorf("%s is Python %s (start gust with --python PATH)", found, lines[1])
	}
	return realPath(lines[0], found), nil
}
