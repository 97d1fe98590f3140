package cli

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeTree creates files (path → content) under dir; paths ending in
// "*" are made executable (the star is dropped).
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if name[len(name)-1] == '*' {
			name, mode = name[:len(name)-1], 0o755
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask-proof
			t.Fatal(err)
		}
	}
}

func TestZipDir(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"bootstrap*":        "#!/bin/sh\necho hi\n",
		"index.js":          "exports.handler = async () => 1\n",
		"lib/util.js":       "module.exports = {}\n",
		"lib/z/deep.txt":    "deep",
		".git/HEAD":         "ref: refs/heads/main\n",
		"lib/.git/config":   "[core]\n",
		".gust/server.json": "{}",
		".gitignore":        "node_modules\n",
	})
	if err := os.Symlink("index.js", filepath.Join(dir, "alias.js")); err != nil {
		t.Fatal(err)
	}

	first, err := zipDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Touch every file: times must not matter.
	later := zipEpoch.AddDate(40, 0, 0)
	filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error {
		os.Chtimes(p, later, later)
		return nil
	})
	second, err := zipDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("zipping the same tree twice gave different bytes")
	}

	zr, err := zip.NewReader(bytes.NewReader(first), int64(len(first)))
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		Name    string
		Mode    os.FileMode
		Content string
	}
	var got []entry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		got = append(got, entry{f.Name, f.Mode(), string(b)})
		if !f.Modified.Equal(zipEpoch) {
			t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, zipEpoch)
		}
	}
	want := []entry{
		{".gitignore", 0o644, "node_modules\n"},
		{"alias.js", 0o644, "exports.handler = async () => 1\n"},
		{"bootstrap", 0o755, "#!/bin/sh\necho hi\n"},
		{"index.js", 0o644, "exports.handler = async () => 1\n"},
		{"lib/util.js", 0o644, "module.exports = {}\n"},
		{"lib/z/deep.txt", 0o644, "deep"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("zip entries (-want +got):\n%s", diff)
	}
}

func TestZipDirRejectsDirSymlink(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"sub/a.txt": "a"})
	if err := os.Symlink("sub", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := zipDir(dir); err == nil {
		t.Error("a symlink to a directory was zipped")
	}
}

func TestReadCode(t *testing.T) {
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "fn.zip")
	if err := os.WriteFile(zipPath, []byte("PK-as-is"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "fn.tar")
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readCode(zipPath)
	if err != nil || string(got) != "PK-as-is" {
		t.Errorf("readCode(zip) = %q, %v; want the bytes unchanged", got, err)
	}
	if _, err := readCode(other); err == nil {
		t.Error("readCode accepted a file that is neither a directory nor a .zip")
	}
}

func TestParseEnvFlags(t *testing.T) {
	got, err := parseEnvFlags([]string{"A=1", "B=x=y", "EMPTY=", "A=2"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "2", "B": "x=y", "EMPTY": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"NOVALUE", "=v"} {
		if _, err := parseEnvFlags([]string{bad}); err == nil {
			t.Errorf("parseEnvFlags(%q) accepted", bad)
		}
	}
}
