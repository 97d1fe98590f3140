package codecache

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

const (
	// maxLinkHops is how many symlinks one resolution may pass through
	// (Linux's MAXSYMLINKS).
	maxLinkHops = 40
	// symlinkWork bounds the bytes of path hashed while resolving all of an
	// archive's symlinks, so a crafted archive cannot make resolution
	// quadratic. Real archives use a tiny fraction of it.
	symlinkWork = 64 << 20
)

var errSymlinkWork = errors.New("symlinks are too complex to resolve")

// checkLink reports whether the symlink at linkPath with a relative target
// stays inside the code directory once resolved the way the kernel would,
// following the archive's other symlinks (links maps path to target). A
// lexical check is not enough: with "d/up -> .." the link "x -> d/up/.."
// cleans to "d" but resolves to the root's parent.
//
// Components that the archive does not contain are treated as plain
// directories: that can only make the check stricter than the kernel.
func checkLink(linkPath, target string, links map[string]string, budget *int) error {
	var stack []string // resolved directory components, never a symlink
	if dir := path.Dir(linkPath); dir != "." {
		stack = strings.Split(dir, "/")
	}
	queue := strings.Split(target, "/")
	hops := 0
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return fmt.Errorf("symlink target %q escapes the code directory", target)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		stack = append(stack, c)
		key := strings.Join(stack, "/")
		if *budget -= len(key); *budget < 0 {
			return errSymlinkWork
		}
		next, ok := links[key]
		if !ok {
			continue
		}
		if hops++; hops > maxLinkHops {
			return fmt.Errorf("symlink target %q has too many levels of symlinks", target)
		}
		stack = stack[:len(stack)-1]
		queue = append(strings.Split(next, "/"), queue...)
	}
	return nil
}
