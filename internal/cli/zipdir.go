package cli

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// zipEpoch is the modification time of every entry, so the same tree
// always zips to the same bytes (and the same CodeSha256).
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// skippedNames are never packed: version control and Gust's own data dir.
var skippedNames = map[string]bool{".git": true, ".gust": true}

// zipDir packs the tree under dir into a zip in memory. The result depends
// only on file names, contents and executable bits: entries are in lexical
// order with fixed times, modes are normalised to 0755 (any exec bit set)
// or 0644, symlinks to files are stored as the file they point to, and
// .git and .gust are skipped at any depth.
func zipDir(dir string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == dir {
			return nil
		}
		if skippedNames[d.Name()] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		info, err := os.Stat(path) // follows symlinks
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			return fmt.Errorf("%s: symlinks to directories are not supported; copy the directory or zip it yourself", name)
		case !info.Mode().IsRegular():
			return fmt.Errorf("%s: not a regular file", name)
		}
		return addZipFile(zw, path, name, info.Mode())
	})
	if err != nil {
		return nil, fmt.Errorf("zip %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip %s: %w", dir, err)
	}
	return buf.Bytes(), nil
}

func addZipFile(zw *zip.Writer, path, name string, mode fs.FileMode) error {
	perm := fs.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zipEpoch}
	h.SetMode(perm)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
