package codecache

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gust/internal/lambda"
)

func TestInspectAccepts(t *testing.T) {
	tests := []struct {
		name     string
		ents     []zent
		unzipped int64
	}{
		{"one file", []zent{file("index.mjs", "export const handler = 1")}, 24},
		{"nested dirs", []zent{dir("a/"), dir("a/b/"), file("a/b/c.txt", "c"), file("x/y/z.txt", "zz")}, 3},
		{"executable bootstrap", []zent{exe("bootstrap", "#!/bin/sh\n")}, 10},
		{"relative symlink in tree", []zent{file("lib/real.txt", "r"), symlink("link", "lib/real.txt"), symlink("lib/up", "../lib/real.txt")}, 1 + 12 + 15},
		{"symlink to a sibling dir", []zent{symlink("d/up", ".."), symlink("d/self", "../d")}, 2 + 4},
		{"dangling symlink inside", []zent{symlink("gone", "not/there")}, 9},
		{"empty files", []zent{file("empty", ""), file("d/empty2", "")}, 0},
		{"root entry and dot segments", []zent{dir("./"), file("./a/./b.txt", "b")}, 1},
		{"repeated directory", []zent{dir("d/"), dir("d/"), file("d/f", "f")}, 1},
		{"no entries", nil, 0},
		{"backslash separators", []zent{file(`dir\file.txt`, "w")}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := buildZip(t, tt.ents...)
			got, err := Inspect(z)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			want := Info{Sha256: shaOf(z), Size: int64(len(z)), Unzipped: tt.unzipped}
			if got != want {
				t.Errorf("Inspect = %+v, want %+v", got, want)
			}
		})
	}
}

// hostile is a zip Inspect and Cache.Dir must refuse, and the message the
// refusal must carry.
type hostile struct {
	name string
	zip  func(t *testing.T, outside string) []byte
	want string
}

func fixed(ents ...zent) func(*testing.T, string) []byte {
	return func(t *testing.T, _ string) []byte { return buildZip(t, ents...) }
}

func hostiles() []hostile {
	return []hostile{
		{"zip slip", fixed(file("../../evil", "x")), `"../../evil": path escapes`},
		{"zip slip mid-path", fixed(file("a/../../evil", "x")), "path escapes"},
		{"absolute path", fixed(file("/etc/evil", "x")), "absolute paths are not allowed"},
		{"windows drive", fixed(file(`C:\evil`, "x")), "absolute paths are not allowed"},
		{"windows UNC", fixed(file(`\\host\evil`, "x")), "absolute paths are not allowed"},
		{"windows zip slip", fixed(file(`..\evil`, "x")), "path escapes"},
		{"NUL in name", fixed(file("a\x00b", "x")), "NUL"},
		{"long component", fixed(file(strings.Repeat("n", 256), "x")), "too long"},
		{"symlink to /etc/passwd", fixed(symlink("passwd", "/etc/passwd")), `"/etc/passwd" is absolute`},
		{"symlink to ..", fixed(symlink("up", "..")), "escapes the code directory"},
		{"symlink escaping through a symlink", fixed(symlink("d/up", ".."), symlink("esc", "d/up/..")), `"esc": symlink target "d/up/.." escapes`},
		{"symlink loop", fixed(symlink("a", "b"), symlink("b", "a")), "too many levels"},
		{"write through absolute symlink", func(t *testing.T, outside string) []byte {
			return buildZip(t, symlink("a", outside), file("a/x", "pwned"))
		}, "is absolute"},
		{"write through /tmp symlink", fixed(symlink("a", "/tmp"), file("a/gust-codecache-test-pwned", "pwned")), "is absolute"},
		{"write through relative escaping symlink", fixed(symlink("a", "../outside"), file("a/x", "pwned")), `"a/x": a parent path is a symlink`},
		{"relative escaping symlink", fixed(symlink("a", "../outside")), `"a": symlink target "../outside" escapes`},
		{"write through in-tree symlink", fixed(dir("real/"), symlink("a", "real"), file("a/x", "x")), `"a/x": a parent path is a symlink`},
		{"duplicate file", fixed(file("f", "1"), file("f", "2")), `"f": duplicate`},
		{"file then dir of same name", fixed(file("a", "1"), file("a/b", "2")), "a parent path is a file"},
		{"dir then file of same name", fixed(dir("a/"), file("a", "1")), "duplicate or conflicting"},
		{"symlink then file of same name", fixed(symlink("a", "b"), file("a", "1")), "duplicate or conflicting"},
		{"fifo entry", fixed(zent{name: "pipe", mode: os.ModeNamedPipe | 0o644}), "unsupported file type"},
		{"empty input", func(*testing.T, string) []byte { return nil }, msgCorrupt},
		{"junk bytes", func(*testing.T, string) []byte { return []byte("this is not a zip file at all, not even close") }, msgCorrupt},
		{"truncated", func(t *testing.T, _ string) []byte {
			z := buildZip(t, file("a.txt", strings.Repeat("hello ", 100)))
			return z[:len(z)-10]
		}, msgCorrupt},
		{"corrupt data", func(t *testing.T, _ string) []byte {
			z := buildZip(t, file("a.txt", strings.Repeat("hello ", 100)))
			i := bytes.Index(z, []byte("a.txt")) + 8 // inside the deflate data
			z[i] ^= 0xff
			return z
		}, msgCorrupt},
		{"zipped over 50 MB", func(*testing.T, string) []byte { return make([]byte, lambda.MaxZippedCodeBytes+1) }, msgZippedTooBig},
		{"honest 300 MB of zeros", func(t *testing.T, _ string) []byte {
			data, crc := zeroDeflate(t, 300)
			return buildRawZip(t, rawEntry{"zeros", data, crc, 300 << 20})
		}, msgUnzippedTooBig},
		{"300 MB of zeros declared as 1 KB", func(t *testing.T, _ string) []byte {
			data, crc := zeroDeflate(t, 300)
			return buildRawZip(t, rawEntry{"zeros", data, crc, 1024})
		}, msgCorrupt},
		{"two honest 150 MB entries", func(t *testing.T, _ string) []byte {
			data, crc := zeroDeflate(t, 150)
			return buildRawZip(t, rawEntry{"a", data, crc, 150 << 20}, rawEntry{"b", data, crc, 150 << 20})
		}, msgUnzippedTooBig},
		{"overlapping entries", func(t *testing.T, _ string) []byte {
			data, crc := zeroDeflate(t, 60)
			return overlapZip(t, buildRawZip(t, rawEntry{"zeros", data, crc, 60 << 20}), 3)
		}, "overlaps another entry"},
		{"too many entries", func(t *testing.T, _ string) []byte { return manyEntries(t) }, msgTooManyEntries},
	}
}

func TestInspectRejects(t *testing.T) {
	for _, tt := range hostiles() {
		t.Run(tt.name, func(t *testing.T) {
			outside := t.TempDir()
			info, err := Inspect(tt.zip(t, outside))
			if err == nil {
				t.Fatalf("Inspect = %+v, want an error", info)
			}
			wantInvalid(t, err, tt.want)
		})
	}
}

// TestDirRejects feeds every hostile zip to Cache.Dir, which re-validates
// while unpacking, and checks that nothing appeared anywhere: not next to
// the cache, not in the directory a symlink pointed at, not in the cache.
func TestDirRejects(t *testing.T) {
	for _, tt := range hostiles() {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			outside := filepath.Join(parent, "outside")
			if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(parent, "sentinel"), []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
			cacheDir := filepath.Join(parent, "cache")
			c, err := New(cacheDir, nil)
			if err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, parent, cacheDir)
			z := tt.zip(t, outside)
			dir, err := c.Dir(context.Background(), shaOf(z), fetchBytes(z))
			if err == nil {
				t.Fatalf("Dir = %q, want an error", dir)
			}
			wantInvalid(t, err, tt.want)
			if diff := diffMaps(before, snapshot(t, parent, cacheDir)); diff != "" {
				t.Errorf("files outside the cache changed:\n%s", diff)
			}
			if ents, _ := os.ReadDir(cacheDir); len(ents) != 0 {
				t.Errorf("cache dir holds %v after a failed unpack, want nothing", ents)
			}
			if _, err := os.Lstat("/tmp/gust-codecache-test-pwned"); err == nil {
				t.Error("/tmp/gust-codecache-test-pwned exists: a write escaped")
			}
		})
	}
}

func diffMaps(a, b map[string]string) string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, "  "+k+": "+v+" -> "+b[k])
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "  new "+k+": "+v)
		}
	}
	return strings.Join(out, "\n")
}

func TestBudgetReaderStopsPastLimit(t *testing.T) {
	// Headers are checked first, so this cap only fires if they lie in a
	// way archive/zip misses; check it on its own.
	r := &budgetReader{r: strings.NewReader(strings.Repeat("x", 100)), left: 10}
	n, err := io.Copy(io.Discard, r)
	if !errors.Is(err, errTooBig) {
		t.Fatalf("copy err = %v, want errTooBig", err)
	}
	if n > 10 || r.n > 11 {
		t.Errorf("copied %d and read %d bytes with a budget of 10", n, r.n)
	}
	r = &budgetReader{r: strings.NewReader(strings.Repeat("x", 10)), left: 10}
	if n, err := io.Copy(io.Discard, r); err != nil || n != 10 {
		t.Errorf("copy exactly the budget = %d, %v; want 10, nil", n, err)
	}
}

func TestCheckLinkWorkIsBounded(t *testing.T) {
	links := map[string]string{"a": strings.Repeat("x/", 2000) + strings.Repeat("../", 2000) + "y"}
	budget := 10_000
	if err := checkLink("a", links["a"], links, &budget); !errors.Is(err, errSymlinkWork) {
		t.Errorf("checkLink = %v, want %v", err, errSymlinkWork)
	}
}

var (
	manyOnce sync.Once
	manyZip  []byte
)

// manyEntries returns a zip of MaxEntries+1 empty stored files, built once
// by hand (archive/zip's writer is slow under -race). The end record holds
// the count modulo 2^16, as readers expect when there is no zip64 record.
func manyEntries(t *testing.T) []byte {
	manyOnce.Do(func() {
		le := binary.LittleEndian
		var local, central []byte
		for i := range MaxEntries + 1 {
			name := strconv.Itoa(i)
			off := uint32(len(local))
			local = le.AppendUint32(local, 0x04034b50)
			local = append(local, make([]byte, 22)...) // version, flags, method, time, crc, sizes: zero
			local = le.AppendUint16(local, uint16(len(name)))
			local = le.AppendUint16(local, 0)
			local = append(local, name...)
			central = le.AppendUint32(central, 0x02014b50)
			central = append(central, make([]byte, 24)...) // versions, flags, method, time, crc, sizes
			central = le.AppendUint16(central, uint16(len(name)))
			central = append(central, make([]byte, 12)...) // extra, comment, disk, attrs
			central = le.AppendUint32(central, off)
			central = append(central, name...)
		}
		out := append(local, central...)
		out = le.AppendUint32(out, 0x06054b50)
		out = append(out, 0, 0, 0, 0)
		out = le.AppendUint16(out, uint16((MaxEntries+1)&0xffff))
		out = le.AppendUint16(out, uint16((MaxEntries+1)&0xffff))
		out = le.AppendUint32(out, uint32(len(central)))
		out = le.AppendUint32(out, uint32(len(local)))
		manyZip = append(out, 0, 0)
	})
	if n := len(mustReader(t, manyZip).File); n != MaxEntries+1 {
		t.Fatalf("hand-built zip has %d entries, want %d", n, MaxEntries+1)
	}
	return manyZip
}

func mustReader(t *testing.T, b []byte) *zip.Reader {
	t.Helper()
	r, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestInspectCountsDecompressedBytes(t *testing.T) {
	data, crc := zeroDeflate(t, 20)
	z := buildRawZip(t, rawEntry{"zeros", data, crc, 20 << 20}, rawEntry{"more", data, crc, 20 << 20})
	info, err := Inspect(z)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(40 << 20); info.Unzipped != want {
		t.Errorf("Unzipped = %d, want %d", info.Unzipped, want)
	}
	if info.Size != int64(len(z)) || info.Size > 64<<10 {
		t.Errorf("Size = %d, want %d (a few KB)", info.Size, len(z))
	}
}
