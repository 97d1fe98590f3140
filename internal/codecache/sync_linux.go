package codecache

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS flushes the filesystem holding root to disk with one syncfs(2),
// far cheaper than an fsync per file of a large tree.
func syncFS(root *os.Root) error {
	f, err := root.Open(".")
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
