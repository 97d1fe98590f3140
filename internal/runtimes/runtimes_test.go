package runtimes

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestNewWritesBootstraps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "runtime")
	for round := 1; round <= 2; round++ { // the second New finds the files in place
		tab, err := New(Options{Dir: dir})
		if err != nil {
			t.Fatalf("New round %d: %v", round, err)
		}
		if tab.RuntimeDir() != dir {
			t.Errorf("RuntimeDir() = %q, want %q", tab.RuntimeDir(), dir)
		}
	}
	for _, name := range []string{nodeBootstrap, nodeWarmUp, pythonBootstrap} {
		want, err := fs.ReadFile(bootstraps, name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		got, err := os.ReadFile(p)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: content differs from the embedded bootstrap (err %v)", p, err)
		}
		for path, mode := range map[string]os.FileMode{p: 0o644, filepath.Dir(p): 0o755 | os.ModeDir} {
			if fi, err := os.Stat(path); err != nil || fi.Mode() != mode {
				t.Errorf("%s: mode %v (err %v), want %v", path, fi.Mode(), err, mode)
			}
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "node"))
	if err != nil || len(entries) != 2 {
		t.Errorf("node dir holds %d entries (err %v), want only the bootstrap and its warm-up module", len(entries), err)
	}
}

func TestNewRejectsEmptyDir(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New with no Dir: want an error")
	}
}

func TestCommand(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	tab, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	code := "/srv/code"
	tests := []struct {
		runtime    string
		wantExe    string // base name prefix of argv[0]
		wantScript string // argv[1], "" for none
	}{
		{"provided.al2023", "bootstrap", ""},
		{"provided", "bootstrap", ""},
		{"nodejs20.x", "node", filepath.Join(tab.RuntimeDir(), "node", "bootstrap.mjs")},
		{"nodejs18.x", "node", filepath.Join(tab.RuntimeDir(), "node", "bootstrap.mjs")},
		{"python3.12", "python3", filepath.Join(tab.RuntimeDir(), "python", "bootstrap.py")},
	}
	for _, tt := range tests {
		t.Run(tt.runtime, func(t *testing.T) {
			argv, err := tab.Command(tt.runtime, code)
			if err != nil {
				t.Fatalf("Command: %v", err)
			}
			if !filepath.IsAbs(argv[0]) || !strings.HasPrefix(filepath.Base(argv[0]), tt.wantExe) {
				t.Errorf("argv[0] = %q, want an absolute path to %s", argv[0], tt.wantExe)
			}
			if tt.wantScript == "" {
				if want := []string{"/srv/code/bootstrap"}; !slices.Equal(argv, want) {
					t.Errorf("argv = %q, want %q", argv, want)
				}
			} else if len(argv) != 2 || argv[1] != tt.wantScript {
				t.Errorf("argv = %q, want [<%s> %s]", argv, tt.wantExe, tt.wantScript)
			}
		})
	}
	if _, err := tab.Command("java21", code); err == nil || !strings.Contains(err.Error(), `unsupported runtime "java21"`) {
		t.Errorf("Command(java21) error = %v, want unsupported runtime", err)
	}
}

func TestCommandMissingInterpreter(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-interpreter")
	tests := []struct {
		name    string
		opts    Options
		path    string // PATH for the lookup; "" keeps the current one
		runtime string
		want    []string // substrings of the error
	}{
		{"node flag", Options{NodePath: missing}, "", "nodejs20.x",
			[]string{"runtime nodejs20.x needs Node.js: --node " + missing + ": ", "no such file or directory", "--node PATH"}},
		{"python flag", Options{PythonPath: missing}, "", "python3.11",
			[]string{"runtime python3.11 needs Python 3.8 or newer: --python " + missing + ": ", "--python PATH"}},
		{"node not on PATH", Options{}, t.TempDir(), "nodejs22.x",
			[]string{"runtime nodejs22.x needs Node.js: no `node` executable found on PATH (install nodejs or start gust with --node PATH)"}},
		{"python not on PATH", Options{}, t.TempDir(), "python3.13",
			[]string{"runtime python3.13 needs Python 3.8 or newer: no `python3` executable found on PATH (install python3 or start gust with --python PATH)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.path != "" {
				t.Setenv("PATH", tt.path)
			}
			tt.opts.Dir = t.TempDir()
			tab, err := New(tt.opts)
			if err != nil {
				t.Fatalf("New must not fail for a missing interpreter: %v", err)
			}
			for range 2 { // the cached failure says the same thing
				_, err = tab.Command(tt.runtime, "/code")
				if err == nil {
					t.Fatal("Command: want an error")
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
			}
			if argv, err := tab.Command("provided.al2", "/code"); err != nil || argv[0] != "/code/bootstrap" {
				t.Errorf("provided.al2 without interpreters: %q, %v", argv, err)
			}
		})
	}
}

// writeScript writes an executable shell script into dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolutionSkipsShim(t *testing.T) {
	tests := []struct {
		runtime string
		real    string
		opts    func(shim string) Options
		ask     []string // how to ask the real interpreter for its path
	}{
		{"python3.12", "/usr/bin/python3", func(s string) Options { return Options{PythonPath: s} },
			[]string{"-c", "import sys;print(sys.executable)"}},
		{"nodejs20.x", "/usr/bin/node", func(s string) Options { return Options{NodePath: s} },
			[]string{"-p", "process.execPath"}},
	}
	for _, tt := range tests {
		t.Run(tt.runtime, func(t *testing.T) {
			if _, err := os.Stat(tt.real); err != nil {
				t.Skipf("%s is not installed", tt.real)
			}
			out, err := exec.Command(tt.real, tt.ask...).Output()
			if err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSpace(string(out))
			dir := t.TempDir()
			count := filepath.Join(dir, "runs")
			// Like pyenv's shim: a script that execs the real interpreter, and
			// here also counts how often it runs.
			shim := writeScript(t, dir, "shim", `echo run >> "`+count+`"; exec `+tt.real+` "$@"`)
			opts := tt.opts(shim)
			opts.Dir = t.TempDir()
			tab, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				argv, err := tab.Command(tt.runtime, "/code")
				if err != nil {
					t.Fatalf("Command: %v", err)
				}
				if argv[0] != want {
					t.Errorf("argv[0] = %q, want the real interpreter %q, not the shim", argv[0], want)
				}
			}
			runs, err := os.ReadFile(count)
			if err != nil || strings.Count(string(runs), "run") != 1 {
				t.Errorf("shim ran %d times (err %v), want exactly once per Table", strings.Count(string(runs), "run"), err)
			}
		})
	}
}

func TestResolutionRejectsOldVersions(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		runtime string
		opts    Options
		want    string
	}{
		{"python3.12", Options{PythonPath: writeScript(t, dir, "python", "echo /opt/old/python; echo 3.6.15")}, "is Python 3.6.15"},
		{"python3.12", Options{PythonPath: writeScript(t, dir, "python2", "echo /opt/old/python; echo 2.7.18")}, "is Python 2.7.18"},
		{"nodejs20.x", Options{NodePath: writeScript(t, dir, "node", "echo /opt/old/node; echo 16.20.2")}, "is Node.js 16.20.2; Gust's bootstrap needs 18 or newer"},
		{"nodejs20.x", Options{NodePath: writeScript(t, dir, "node-broken", "echo oops >&2; exit 3")}, "oops"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			tt.opts.Dir = t.TempDir()
			tab, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tab.Command(tt.runtime, "/code"); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Command error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	tab, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		runtime string
		want    []string // entries that must be present
	}{
		{"python3.9", []string{"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"}},
		{"nodejs20.x", []string{"NODE_PATH=/opt/nodejs/node_modules:" + filepath.Join(tab.RuntimeDir(), "node", "node_modules")}},
		{"provided.al2023", nil},
	}
	for _, tt := range tests {
		t.Run(tt.runtime, func(t *testing.T) {
			got := tab.Env(tt.runtime)
			if len(got) != len(tt.want) {
				t.Errorf("Env = %q, want %q", got, tt.want)
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("Env = %q, missing %q", got, w)
				}
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in           string
		major, minor int
		wantErr      bool
	}{
		{"3.11.2", 3, 11, false},
		{"v20.20.2", 20, 20, false},
		{"3.8", 3, 8, false},
		{"3", 0, 0, true},
		{"x.y", 0, 0, true},
	}
	for _, tt := range tests {
		major, minor, err := parseVersion(tt.in)
		if (err != nil) != tt.wantErr || major != tt.major || minor != tt.minor {
			t.Errorf("parseVersion(%q) = %d, %d, %v; want %d, %d, error %v", tt.in, major, minor, err, tt.major, tt.minor, tt.wantErr)
		}
	}
}
