// Package runtimes owns Gust's managed-runtime bootstraps and the table that
// says how to start each runtime id.
//
// The Node.js (node/bootstrap.mjs) and Python (python/bootstrap.py)
// bootstraps are embedded in the binary and written once, by New, into
// Options.Dir. Each is a complete Lambda Runtime API 2018-06-01 client
// implementing the AWS handler contract, so a zip built for AWS Lambda runs
// unchanged; provided.* runtimes run the function's own bootstrap.
//
// The package starts no goroutines. A Table is safe for concurrent use.
// Invariants: each interpreter is resolved at most once per Table, to the
// real executable's absolute path (never a PATH shim such as pyenv's), and
// a missing interpreter fails only the runtimes that need it, at Command.
package runtimes

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gust/internal/lambda"
)

//go:embed node/bootstrap.mjs node/warm-up.mjs python/bootstrap.py
var bootstraps embed.FS

const (
	nodeBootstrap   = "node/bootstrap.mjs"
	nodeWarmUp      = "node/warm-up.mjs" // imported by a waiting stem cell
	pythonBootstrap = "python/bootstrap.py"
)

// Options configures a Table.
type Options struct {
	// Dir is where the embedded bootstraps are written at startup, for
	// example <data>/runtime. It is created if missing. Required.
	Dir string
	// NodePath is the node executable. Default "": resolve `node` on PATH.
	NodePath string
	// PythonPath is the Python 3.8+ executable. Default "": resolve
	// `python3` on PATH.
	PythonPath string
}

// Table maps runtime ids to the command and environment that start them.
type Table struct {
	dir    string
	node   interpreter
	python interpreter
}

// New writes the embedded bootstraps into opts.Dir (directories 0755,
// files 0644) and returns the table. Interpreters are resolved lazily, on
// the first Command for their family; a missing one is not an error here.
func New(opts Options) (*Table, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("runtimes: Options.Dir is empty")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("runtimes: %w", err)
	}
	for _, name := range []string{nodeBootstrap, nodeWarmUp, pythonBootstrap} {
		if err := writeBootstrap(dir, name); err != nil {
			return nil, fmt.Errorf("runtimes: write bootstrap: %w", err)
		}
	}
	return &Table{
		dir:    dir,
		node:   interpreter{path: opts.NodePath, probe: probeNode},
		python: interpreter{path: opts.PythonPath, probe: probePython},
	}, nil
}

// writeBootstrap writes one embedded file under dir unless an identical
// copy is already there. It writes a temporary file and renames it, so a
// runtime starting concurrently never reads a half-written bootstrap.
func writeBootstrap(dir, name string) error {
	data, err := fs.ReadFile(bootstraps, name)
	if err != nil {
		return err
	}
	dst := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".bootstrap-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// RuntimeDir is the directory holding the bootstraps; functions see it as
// LAMBDA_RUNTIME_DIR.
func (t *Table) RuntimeDir() string { return t.dir }

// Command returns the argv that starts runtime for a function whose code is
// unpacked at codeDir: [codeDir/bootstrap] for provided.*, or the resolved
// interpreter and Gust's bootstrap for nodejs* and python*. It fails for an
// unknown runtime, or when the runtime's interpreter is missing or too old,
// with a message naming the runtime and how to fix it.
func (t *Table) Command(runtime, codeDir string) ([]string, error) {
	family, ok := lambda.RuntimeFamily(runtime)
	if !ok {
		return nil, fmt.Errorf("runtimes: unsupported runtime %q", runtime)
	}
	switch family {
	case lambda.FamilyProvided:
		return []string{filepath.Join(codeDir, "bootstrap")}, nil
	case lambda.FamilyNode:
		exe, err := t.node.resolve()
		if err != nil {
			return nil, fmt.Errorf("runtime %s needs Node.js: %w", runtime, err)
		}
		return []string{exe, filepath.Join(t.dir, filepath.FromSlash(nodeBootstrap))}, nil
	case lambda.FamilyPython:
		exe, err := t.python.resolve()
		if err != nil {
			return nil, fmt.Errorf("runtime %s needs Python 3.8 or newer: %w", runtime, err)
		}
		return []string{exe, filepath.Join(t.dir, filepath.FromSlash(pythonBootstrap))}, nil
	}
	return nil, fmt.Errorf("runtimes: runtime %q has unknown family %q", runtime, family)
}

// Env returns the environment variables, as KEY=value, that runtime needs
// beyond the standard Lambda ones the caller sets. Layers are expected
// under /opt as on AWS.
func (t *Table) Env(runtime string) []string {
	family, _ := lambda.RuntimeFamily(runtime)
	switch family {
	case lambda.FamilyNode:
		return []string{
			"NODE_PATH=/opt/nodejs/node_modules:" + filepath.Join(t.dir, "node", "node_modules"),
		}
	case lambda.FamilyPython:
		return []string{
			"PYTHONUNBUFFERED=1",
			"PYTHONDONTWRITEBYTECODE=1",
		}
	}
	return nil
}
