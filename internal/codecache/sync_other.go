//go:build !linux

package codecache

import (
	"errors"
	"io/fs"
	"os"
)

// syncFS flushes every regular file under root; slower than Linux's syncfs.
func syncFS(root *os.Root) error {
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := root.Open(p)
		if err != nil {
			return err
		}
		return errors.Join(f.Sync(), f.Close())
	})
}
