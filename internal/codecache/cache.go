package codecache

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Temporary names inside the cache directory. They start with a dot, so
// they never collide with a 64-hex-digit final name.
const (
	unpackPrefix = ".unpack-"
	removePrefix = ".remove-"
)

// Cache unpacks deployment zips into content-addressed directories under one
// directory, once per code hash. It is safe for concurrent use.
type Cache struct {
	dir  string
	log  *slog.Logger
	sync func(*os.Root) error // flushes an unpacked tree; tests may skip it

	mu    sync.Mutex
	calls map[string]*call // hex sha -> unpack in progress
}

// call is one unpack in progress; done closes when dir and err are set.
type call struct {
	done chan struct{}
	dir  string
	err  error
}

// New returns a cache rooted at dir, creating it (0700) if needed and
// removing temporary directories a crash left behind. It assumes it is the
// only user of dir. A nil logger discards.
func New(dir string, logger *slog.Logger) (*Cache, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("code cache dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create code cache: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read code cache: %w", err)
	}
	var errs []error
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, unpackPrefix) || strings.HasPrefix(n, removePrefix) {
			errs = append(errs, os.RemoveAll(filepath.Join(dir, n)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("clean code cache: %w", err)
	}
	return &Cache{dir: dir, log: logger.With("component", "codecache"), sync: syncFS, calls: make(map[string]*call)}, nil
}

// Dir returns the directory holding the unpacked code for sha (the base64
// CodeSha256), unpacking it on first use with fetch() to get the zip bytes.
// Concurrent callers for the same sha share one fetch and unpack; a caller
// whose own ctx is live retries if the unpack it waited for was cancelled.
//
// The fetched bytes must hash to sha and pass the rules of [Inspect]; a
// failed validation returns the *lambda.Error of Inspect, wrapped.
func (c *Cache) Dir(ctx context.Context, sha string, fetch func(ctx context.Context) ([]byte, error)) (string, error) {
	sum, name, err := parseSha(sha)
	if err != nil {
		return "", err
	}
	final := filepath.Join(c.dir, name)
	for {
		if fi, err := os.Lstat(final); err == nil && fi.IsDir() {
			return final, nil
		}
		c.mu.Lock()
		cl, ok := c.calls[name]
		if !ok {
			cl = &call{done: make(chan struct{})}
			c.calls[name] = cl
			c.mu.Unlock()
			c.lead(ctx, cl, name, sum, final, fetch)
			return cl.dir, cl.err
		}
		c.mu.Unlock()
		select {
		case <-cl.done:
		case <-ctx.Done():
			return "", fmt.Errorf("wait for code %s: %w", sha, ctx.Err())
		}
		if cl.err == nil {
			return cl.dir, nil
		}
		if ctx.Err() == nil && (errors.Is(cl.err, context.Canceled) || errors.Is(cl.err, context.DeadlineExceeded)) {
			continue // the leader's caller gave up, not ours
		}
		return "", cl.err
	}
}

// lead runs the unpack for cl and publishes its result, even if it panics.
func (c *Cache) lead(ctx context.Context, cl *call, name string, sum [sha256.Size]byte, final string, fetch func(context.Context) ([]byte, error)) {
	defer func() {
		if r := recover(); r != nil {
			cl.err = fmt.Errorf("unpack code %s: panic: %v", name, r)
			defer panic(r)
		}
		c.mu.Lock()
		delete(c.calls, name)
		c.mu.Unlock()
		close(cl.done)
	}()
	cl.dir, cl.err = c.unpack(ctx, sum, final, fetch)
}

// unpack fetches, verifies and unpacks one zip into final.
func (c *Cache) unpack(ctx context.Context, sum [sha256.Size]byte, final string, fetch func(context.Context) ([]byte, error)) (string, error) {
	start := time.Now()
	sha := base64.StdEncoding.EncodeToString(sum[:])
	b, err := fetch(ctx)
	if err != nil {
		return "", fmt.Errorf("fetch code %s: %w", sha, err)
	}
	if got := sha256.Sum256(b); got != sum {
		return "", fmt.Errorf("fetch code %s: got bytes with sha256 %s", sha, base64.StdEncoding.EncodeToString(got[:]))
	}
	p, err := parse(b)
	if err != nil {
		return "", fmt.Errorf("unpack code %s: %w", sha, err)
	}
	tmp, err := os.MkdirTemp(c.dir, unpackPrefix)
	if err != nil {
		return "", fmt.Errorf("unpack code %s: %w", sha, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			if err := os.RemoveAll(tmp); err != nil {
				c.log.Warn("remove temporary code dir", "dir", tmp, "err", err)
			}
		}
	}()
	if err := writeTree(ctx, tmp, p, c.sync); err != nil {
		return "", fmt.Errorf("unpack code %s: %w", sha, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another process sharing the directory may have won the race.
		if fi, serr := os.Lstat(final); serr == nil && fi.IsDir() {
			return final, nil
		}
		return "", fmt.Errorf("unpack code %s: %w", sha, err)
	}
	renamed = true
	if err := syncDir(c.dir); err != nil {
		c.log.Warn("sync code cache dir", "err", err)
	}
	c.log.Info("unpacked code", "sha256", sha, "dir", final, "entries", len(p.entries),
		"zipped", len(b), "unzipped", p.unzipped, "duration", time.Since(start))
	return final, nil
}

// writeTree extracts p into dir through an os.Root, sets directory modes and
// flushes the tree to disk.
func writeTree(ctx context.Context, dir string, p *plan, sync func(*os.Root) error) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := p.extract(&rootSink{ctx: ctx, root: root}); err != nil {
		return err
	}
	// Directories get 0755 whatever the umask; files were chmodded as made.
	for _, d := range p.dirs {
		if err := root.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	return sync(root)
}

// rootSink writes a plan through an os.Root, so no name, symlink or race can
// put a byte outside it.
type rootSink struct {
	ctx  context.Context
	root *os.Root
}

func (s *rootSink) mkdir(p string) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	return s.root.MkdirAll(p, 0o755)
}

func (s *rootSink) file(e *entry, r io.Reader) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	if err := s.root.MkdirAll(path.Dir(e.path), 0o755); err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if e.exec {
		perm = 0o755
	}
	// O_EXCL also refuses to follow a symlink that is already there.
	f, err := s.root.OpenFile(e.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	err = errors.Join(err, f.Chmod(perm), f.Close())
	if err != nil {
		return err
	}
	if m := e.f.Modified; !m.IsZero() {
		// Keep mtimes, as unzip does: Python compares them with .pyc files.
		// The entry is a regular file made just above, not a symlink.
		return s.root.Chtimes(e.path, m, m)
	}
	return nil
}

func (s *rootSink) symlink(p, target string) error {
	if err := s.root.MkdirAll(path.Dir(p), 0o755); err != nil {
		return err
	}
	return s.root.Symlink(target, p)
}

// Remove deletes the unpacked directory for sha if present; it is not an
// error if there is none. The directory is first renamed away, so Dir never
// sees it half-deleted. Callers must make sure nothing runs from it, and
// that no Dir call for the same sha is in progress.
func (c *Cache) Remove(sha string) error {
	_, name, err := parseSha(sha)
	if err != nil {
		return err
	}
	final := filepath.Join(c.dir, name)
	if _, err := os.Lstat(final); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	// Pick an unused name; New removes it if we crash before RemoveAll.
	trash, err := os.MkdirTemp(c.dir, removePrefix)
	if err == nil {
		err = os.Remove(trash)
	}
	if err != nil {
		return fmt.Errorf("remove code %s: %w", sha, err)
	}
	if err := os.Rename(final, trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove code %s: %w", sha, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove code %s: %w", sha, err)
	}
	return nil
}

// parseSha decodes a base64 CodeSha256 and returns it with its hex form,
// the name of its directory.
func parseSha(sha string) (sum [sha256.Size]byte, name string, err error) {
	b, err := base64.StdEncoding.Strict().DecodeString(sha)
	if err != nil || len(b) != sha256.Size {
		return sum, "", fmt.Errorf("parse code sha256 %q: want base64 of %d bytes", sha, sha256.Size)
	}
	copy(sum[:], b)
	return sum, hex.EncodeToString(b), nil
}

// syncDir makes a rename inside dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
