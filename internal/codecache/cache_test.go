package codecache

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newCache(t *testing.T) (*Cache, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

// wantTree checks path -> "mode content" (content of a file, target of a
// symlink) for every entry under dir, and nothing else.
func wantTree(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		desc := fi.Mode().String()
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " " + target
		}
		got[filepath.ToSlash(rel)] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := diffMaps(want, got); d != "" {
		t.Errorf("unpacked tree differs (want -> got):\n%s", d)
	}
}

func TestDirUnpacks(t *testing.T) {
	c, cacheDir := newCache(t)
	z := buildZip(t,
		exe("bootstrap", "#!/bin/sh\necho hi\n"),
		dir("lib/"),
		file("lib/a/b.txt", "deep"),
		file("empty", ""),
		symlink("lib/link", "a/b.txt"),
		symlink("lib/a/top", "../../empty"),
		zent{name: "odd-perms", body: "x", mode: fs.ModeSetuid | 0o777}, // setuid is dropped
		zent{name: "ro", body: "y", mode: 0o400},
	)
	dir, err := c.Dir(context.Background(), shaOf(z), fetchBytes(z))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(z)
	if want := filepath.Join(cacheDir, hex.EncodeToString(sum[:])); dir != want {
		t.Errorf("Dir = %q, want %q", dir, want)
	}
	wantTree(t, dir, map[string]string{
		"bootstrap":   "-rwxr-xr-x #!/bin/sh\necho hi\n",
		"lib":         "drwxr-xr-x",
		"lib/a":       "drwxr-xr-x",
		"lib/a/b.txt": "-rw-r--r-- deep",
		"lib/a/top":   "Lrwxrwxrwx ../../empty",
		"lib/link":    "Lrwxrwxrwx a/b.txt",
		"empty":       "-rw-r--r-- ",
		"odd-perms":   "-rwxr-xr-x x",
		"ro":          "-rw-r--r-- y",
	})
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("code dir mode = %v, %v; want 0755", fi.Mode(), err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "lib/link")); err != nil || string(b) != "deep" {
		t.Errorf("read through in-tree symlink = %q, %v; want %q", b, err, "deep")
	}
	out, err := exec.Command(filepath.Join(dir, "bootstrap")).Output()
	if err != nil || string(out) != "hi\n" {
		t.Errorf("run bootstrap = %q, %v; want %q", out, err, "hi\n")
	}
}

func TestDirKeepsModTime(t *testing.T) {
	c, _ := newCache(t)
	mod := time.Date(2020, 1, 2, 3, 4, 6, 0, time.UTC)
	var buf strings.Builder
	w := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "app.py", Modified: mod}
	f, _ := w.CreateHeader(h)
	f.Write([]byte("print(1)"))
	w.Close()
	z := []byte(buf.String())
	dir, err := c.Dir(context.Background(), shaOf(z), fetchBytes(z))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "app.py"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(mod) {
		t.Errorf("mtime = %v, want %v", fi.ModTime(), mod)
	}
}

func TestDirZipCLI(t *testing.T) {
	zipCmd, err := exec.LookPath("/usr/bin/zip")
	if err != nil {
		t.Skip("no /usr/bin/zip")
	}
	src := t.TempDir()
	for name, body := range map[string]string{"bootstrap": "#!/bin/sh\n", "pkg/mod.py": "x = 1\n", "pkg/sub/empty": ""} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := fs.FileMode(0o644)
		if name == "bootstrap" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("pkg/mod.py", filepath.Join(src, "link.py")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../bootstrap", filepath.Join(src, "pkg/boot")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "code.zip")
	cmd := exec.Command(zipCmd, "-q", "-r", "-y", out, ".")
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zip: %v\n%s", err, b)
	}
	z, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(z)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if want := int64(len("#!/bin/sh\n") + len("x = 1\n") + len("pkg/mod.py") + len("../bootstrap")); info.Unzipped != want {
		t.Errorf("Unzipped = %d, want %d", info.Unzipped, want)
	}
	c, _ := newCache(t)
	dir, err := c.Dir(context.Background(), info.Sha256, fetchBytes(z))
	if err != nil {
		t.Fatal(err)
	}
	wantTree(t, dir, map[string]string{
		"bootstrap":     "-rwxr-xr-x #!/bin/sh\n",
		"link.py":       "Lrwxrwxrwx pkg/mod.py",
		"pkg":           "drwxr-xr-x",
		"pkg/boot":      "Lrwxrwxrwx ../bootstrap",
		"pkg/mod.py":    "-rw-r--r-- x = 1\n",
		"pkg/sub":       "drwxr-xr-x",
		"pkg/sub/empty": "-rw-r--r-- ",
	})
}

func TestDirSharesOneUnpack(t *testing.T) {
	c, _ := newCache(t)
	z := buildZip(t, file("index.js", "exports.handler = async () => 1"))
	var fetches atomic.Int32
	release := make(chan struct{})
	fetch := func(ctx context.Context) ([]byte, error) {
		fetches.Add(1)
		<-release
		return z, nil
	}
	const n = 20
	var started, done sync.WaitGroup
	dirs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			dirs[i], errs[i] = c.Dir(context.Background(), shaOf(z), fetch)
		}()
	}
	started.Wait()
	close(release)
	done.Wait()
	if got := fetches.Load(); got != 1 {
		t.Errorf("fetch called %d times, want 1", got)
	}
	for i := range n {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Errorf("caller %d: Dir = %q, %v; want %q, nil", i, dirs[i], errs[i], dirs[0])
		}
	}
}

func TestDirFollowerRetriesWhenLeaderGivesUp(t *testing.T) {
	c, _ := newCache(t)
	z := buildZip(t, file("f", "x"))
	sha := shaOf(z)
	inFetch := make(chan struct{})
	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := c.Dir(leaderCtx, sha, func(ctx context.Context) ([]byte, error) {
			close(inFetch)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		leaderErr <- err
	}()
	<-inFetch
	followerDone := make(chan error, 1)
	var followerFetches atomic.Int32
	go func() {
		_, err := c.Dir(context.Background(), sha, func(context.Context) ([]byte, error) {
			followerFetches.Add(1)
			return z, nil
		})
		followerDone <- err
	}()
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("leader Dir err = %v, want context.Canceled", err)
	}
	if err := <-followerDone; err != nil {
		t.Errorf("follower Dir err = %v, want nil", err)
	}
	if got := followerFetches.Load(); got != 1 {
		t.Errorf("follower fetched %d times, want 1", got)
	}
}

func TestDirErrors(t *testing.T) {
	z := buildZip(t, file("f", "x"))
	fetchErr := errors.New("object store down")
	tests := []struct {
		name  string
		sha   string
		fetch func(context.Context) ([]byte, error)
		want  string
		is    error
	}{
		{"sha not base64", "not base64!", fetchBytes(z), "want base64 of 32 bytes", nil},
		{"sha too short", "AAAA", fetchBytes(z), "want base64 of 32 bytes", nil},
		{"bytes do not match sha", shaOf([]byte("other")), fetchBytes(z), "got bytes with sha256 " + shaOf(z), nil},
		{"fetch fails", shaOf(z), func(context.Context) ([]byte, error) { return nil, fetchErr }, "object store down", fetchErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, cacheDir := newCache(t)
			dir, err := c.Dir(context.Background(), tt.sha, tt.fetch)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Dir = %q, %v; want an error containing %q", dir, err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			if ents, _ := os.ReadDir(cacheDir); len(ents) != 0 {
				t.Errorf("cache dir holds %v, want nothing", ents)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	c, cacheDir := newCache(t)
	z := buildZip(t, file("d/f", "x"), exe("bootstrap", "y"))
	sha := shaOf(z)
	if err := c.Remove(sha); err != nil {
		t.Errorf("Remove of absent code = %v, want nil", err)
	}
	var fetches int
	fetch := func(context.Context) ([]byte, error) { fetches++; return z, nil }
	dir, err := c.Dir(context.Background(), sha, fetch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Dir(context.Background(), sha, fetch); err != nil || fetches != 1 {
		t.Fatalf("second Dir: err %v, fetches %d; want nil, 1", err, fetches)
	}
	if err := c.Remove(sha); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(cacheDir); len(ents) != 0 {
		t.Errorf("cache dir holds %v after Remove, want nothing", ents)
	}
	if again, err := c.Dir(context.Background(), sha, fetch); err != nil || again != dir || fetches != 2 {
		t.Errorf("Dir after Remove = %q, %v with %d fetches; want %q, nil, 2", again, err, fetches, dir)
	}
	if err := c.Remove("bad"); err == nil {
		t.Error("Remove(bad sha) = nil, want an error")
	}
}

func TestNewCleansLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	keep := filepath.Join(dir, strings.Repeat("ab", 32))
	for _, d := range []string{keep, filepath.Join(dir, unpackPrefix+"123", "half"), filepath.Join(dir, removePrefix+"9")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(dir, nil); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != filepath.Base(keep) {
		t.Errorf("cache dir after New = %v, want only %s", ents, filepath.Base(keep))
	}
	_, fresh := newCache(t)
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("new cache dir mode = %v, %v; want 0700", fi.Mode(), err)
	}
}

// TestRootSinkConfines bypasses validation to show the second line of
// defence: a symlink planted in the tree cannot carry a write outside.
func TestRootSinkConfines(t *testing.T) {
	parent := t.TempDir()
	outside := filepath.Join(parent, "outside")
	code := filepath.Join(parent, "code")
	for _, d := range []string{outside, code} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(code)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	s := &rootSink{ctx: context.Background(), root: root}
	if err := s.symlink("abs", outside); err != nil {
		t.Fatal(err)
	}
	if err := s.symlink("rel", "../outside"); err != nil {
		t.Fatal(err)
	}
	if err := s.symlink("file", "../outside/file"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"abs/x", "rel/x", "file"} {
		e := &entry{f: &zip.File{}, path: name, kind: kindFile}
		if err := s.file(e, strings.NewReader("pwned")); err == nil {
			t.Errorf("write %s through a planted symlink succeeded", name)
		}
	}
	if err := s.mkdir("abs/sub"); err == nil {
		t.Error("mkdir through a planted symlink succeeded")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("outside holds %v, want nothing", ents)
	}
}
