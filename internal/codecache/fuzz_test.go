package codecache

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gust/internal/lambda"
)

// FuzzInspect checks that Inspect never panics, fails only with the
// catalog's InvalidParameterValue, and that whatever it accepts unpacks into
// a Cache writing only inside its directory, with as many bytes as
// Inspect counted.
func FuzzInspect(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Add(buildZip(f, exe("bootstrap", "#!/bin/sh\n"), dir("lib/"), file("lib/a.txt", "a"), symlink("l", "lib/a.txt")))
	f.Add(buildZip(f, symlink("d/up", ".."), symlink("esc", "d/up/..")))
	f.Add(buildZip(f, symlink("a", "b"), file("a/x", "x")))
	f.Add(buildZip(f, file(`a\..\..\b`, "x"), file("./c", "")))
	f.Add(buildZip(f, file("f", "1"), file("f/g", "2")))
	zeros, crc := zeroDeflate(f, 1)
	f.Add(overlapZip(f, buildRawZip(f, rawEntry{"zeros", zeros, crc, 1 << 20}), 3))
	f.Add(buildRawZip(f, rawEntry{"lie", zeros, crc, 10}))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Inspect(b)
		if err != nil {
			var le *lambda.Error
			if !errors.As(err, &le) || le.Kind != lambda.KindInvalidParameterValue {
				t.Fatalf("Inspect error %v is not an InvalidParameterValue *lambda.Error", err)
			}
			return
		}
		checkUnpack(t, b, info)
	})
}

// FuzzEntries builds well-formed zips from fuzzed entry lists, so the fuzzer
// explores names, symlink targets and conflicts rather than CRCs. Each line
// is a kind letter (f file, x executable, d dir, l symlink), a name, "=",
// then the body or link target.
func FuzzEntries(f *testing.F) {
	f.Add("fa=1\nxbootstrap=#!\ndd/\nld/l=../a")
	f.Add("ld/up=..\nlesc=d/up/..")
	f.Add("la=.\nfa/b=x")
	f.Add("lx=y/../../z\nly=.")
	f.Add("f..\\x=1\nfC:x=2\nf/abs=3")
	f.Add("la=b/c\nlb=a\nfb/c=1")
	f.Fuzz(func(t *testing.T, spec string) {
		var ents []zent
		for _, line := range strings.Split(spec, "\n") {
			if len(line) < 2 {
				continue
			}
			name, body, _ := strings.Cut(line[1:], "=")
			switch line[0] {
			case 'f':
				ents = append(ents, file(name, body))
			case 'x':
				ents = append(ents, exe(name, body))
			case 'd':
				ents = append(ents, dir(name))
			case 'l':
				ents = append(ents, symlink(name, body))
			}
		}
		b := buildZip(t, ents...)
		info, err := Inspect(b)
		if err != nil {
			var le *lambda.Error
			if !errors.As(err, &le) || le.Kind != lambda.KindInvalidParameterValue {
				t.Fatalf("Inspect error %v is not an InvalidParameterValue *lambda.Error", err)
			}
			return
		}
		checkUnpack(t, b, info)
	})
}

// checkUnpack unpacks b, which Inspect accepted, and checks that it lands
// only inside the cache, links resolve inside the code directory, and the
// bytes on disk match what Inspect counted.
func checkUnpack(t *testing.T, b []byte, info Info) {
	t.Helper()
	parent := t.TempDir()
	c, err := New(filepath.Join(parent, "cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.sync = func(*os.Root) error { return nil } // syncfs would dominate the run time
	dir, err := c.Dir(context.Background(), info.Sha256, fetchBytes(b))
	if err != nil {
		t.Fatalf("Inspect accepted but Dir failed: %v", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 || ents[0].Name() != "cache" {
		t.Fatalf("parent holds %v, want only cache", ents)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.Mode().IsRegular():
			total += fi.Size()
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			total += int64(len(target))
			if real, err := filepath.EvalSymlinks(p); err == nil && real != realDir && !strings.HasPrefix(real, realDir+"/") {
				t.Errorf("symlink %s resolves to %s, outside %s", p, real, dir)
			}
		case !fi.IsDir():
			t.Errorf("unexpected file type %v at %s", fi.Mode(), p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != info.Unzipped {
		t.Errorf("unpacked %d bytes, Inspect counted %d", total, info.Unzipped)
	}
}
