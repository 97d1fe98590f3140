package codecache

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gust/internal/lambda"
)

// zent is one entry of a zip built by a test.
type zent struct {
	name string
	body string
	mode fs.FileMode // 0 means 0644 for files, 0755|ModeDir for names ending in "/"
}

func file(name, body string) zent { return zent{name: name, body: body} }
func exe(name, body string) zent  { return zent{name: name, body: body, mode: 0o755} }
func dir(name string) zent        { return zent{name: name, mode: fs.ModeDir | 0o755} }
func symlink(name, target string) zent {
	return zent{name: name, body: target, mode: fs.ModeSymlink | 0o777}
}

// buildZip makes a zip with archive/zip; names are written verbatim.
func buildZip(t testing.TB, ents ...zent) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range ents {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.name, "/") {
			continue // archive/zip refuses data for a directory name
		}
		if _, err := f.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	zerosOnce    sync.Once
	zerosMB      []byte // raw deflate of 1 MiB of zeros, non-final blocks
	zerosMBCRC32 uint32
)

// zeroDeflate returns a raw deflate stream of mb MiB of zeros and its CRC-32.
// It repeats one compressed MiB: after the first zero byte, zeros
// back-reference zeros whatever precedes them, so the chunks concatenate.
func zeroDeflate(t testing.TB, mb int) ([]byte, uint32) {
	t.Helper()
	zerosOnce.Do(func() {
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.BestCompression)
		mib := make([]byte, 1<<20)
		fw.Write(mib)
		fw.Flush()
		zerosMB = buf.Bytes()
		zerosMBCRC32 = crc32.ChecksumIEEE(mib)
	})
	var out []byte
	var crc uint32
	mib := make([]byte, 1<<20)
	for range mb {
		out = append(out, zerosMB...)
		crc = crc32.Update(crc, crc32.IEEETable, mib)
	}
	return append(out, 0x03, 0x00), crc // final empty fixed-Huffman block
}

// rawEntry is a pre-compressed entry whose header sizes are set by the test
// (and may lie).
type rawEntry struct {
	name         string
	data         []byte
	crc          uint32
	uncompressed uint64
}

func buildRawZip(t testing.TB, ents ...rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range ents {
		h := &zip.FileHeader{
			Name: e.name, Method: zip.Deflate, CRC32: e.crc,
			CompressedSize64: uint64(len(e.data)), UncompressedSize64: e.uncompressed,
		}
		h.SetMode(0o644)
		f, err := w.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// overlapZip returns a one-entry zip whose central directory lists that
// entry n times under different names: a non-recursive zip bomb.
func overlapZip(t testing.TB, z []byte, n int) []byte {
	t.Helper()
	const eocdLen = 22
	eocd := z[len(z)-eocdLen:]
	if binary.LittleEndian.Uint32(eocd) != 0x06054b50 {
		t.Fatal("no end of central directory record")
	}
	cdSize := binary.LittleEndian.Uint32(eocd[12:])
	cdOff := binary.LittleEndian.Uint32(eocd[16:])
	rec := z[cdOff : cdOff+cdSize]
	nameLen := binary.LittleEndian.Uint16(rec[28:])
	out := append([]byte(nil), z[:cdOff]...)
	for i := range n {
		r := append([]byte(nil), rec...)
		r[46+nameLen-1] = byte('a' + i) // a distinct last letter per copy
		out = append(out, r...)
	}
	e := append([]byte(nil), eocd...)
	binary.LittleEndian.PutUint16(e[8:], uint16(n))
	binary.LittleEndian.PutUint16(e[10:], uint16(n))
	binary.LittleEndian.PutUint32(e[12:], cdSize*uint32(n))
	return append(out, e...)
}

func shaOf(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func fetchBytes(b []byte) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return b, nil }
}

// wantInvalid fails unless err is a *lambda.Error of kind
// InvalidParameterValue whose message contains want.
func wantInvalid(t testing.TB, err error, want string) {
	t.Helper()
	var le *lambda.Error
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *lambda.Error", err)
	}
	if le.Kind != lambda.KindInvalidParameterValue {
		t.Errorf("kind = %v, want %v", le.Kind, lambda.KindInvalidParameterValue)
	}
	if !strings.Contains(le.Message, want) {
		t.Errorf("message = %q, want it to contain %q", le.Message, want)
	}
}

// snapshot describes every path under dir except skip: type, mode, size
// and link target.
func snapshot(t testing.TB, dir, skip string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		if fi.Mode().IsRegular() {
			desc += fmt.Sprintf(" %d bytes", fi.Size())
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			desc += " -> " + target
		}
		got[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
