package server_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/gusttest"
)

// cpEntry is one raw zip entry; mode carries fs.ModeSymlink for links.
type cpEntry struct {
	name, body string
	mode       fs.FileMode
}

// cpRawZip writes entries exactly as given: no name cleaning, so hostile
// names and symlinks reach the server as an attacker would send them.
func cpRawZip(t testing.TB, entries ...cpEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cpBombZip builds a zip whose one entry inflates to mib MiB of zeros while
// its header claims claimed bytes. It costs a few KB of deflate work: a
// block of a flate stream that encodes 1 MiB of zeros after earlier zeros
// decodes the same wherever it is repeated.
func cpBombZip(t testing.TB, mib int, claimed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	block := func() []byte {
		if _, err := fw.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if err := fw.Flush(); err != nil {
			t.Fatal(err)
		}
		b := bytes.Clone(buf.Bytes())
		buf.Reset()
		return b
	}
	head, mid := block(), block()
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	stream := append(head, bytes.Repeat(mid, mib-1)...)
	stream = append(stream, buf.Bytes()...)

	crc := crc32.NewIEEE()
	for range mib {
		crc.Write(chunk)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "bomb.bin", Method: zip.Deflate, CRC32: crc.Sum32(),
		CompressedSize64: uint64(len(stream)), UncompressedSize64: claimed})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(stream); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestHostileArchives(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	// Every t.TempDir of this test, the server's data dir included, lives
	// in area; an escape would land there or at an absolute path.
	area := filepath.Dir(t.TempDir())
	_, statErr := os.Stat("/tmp/evil")
	tmpEvilExisted := statErr == nil

	index := cpEntry{name: "index.mjs", body: "export const handler = async () => 1;\n"}
	const bombMiB = 251 // 263,192,576 bytes > 262,144,000
	tests := []struct {
		name string
		zip  []byte
		msg  string
	}{
		{"zip slip", cpRawZip(t, index, cpEntry{name: "../../evil.txt", body: "pwned"}), "escapes"},
		{"zip slip backslash", cpRawZip(t, index, cpEntry{name: `..\..\evil-backslash.txt`, body: "pwned"}), "escapes"},
		{"zip slip deep", cpRawZip(t, index, cpEntry{name: "a/b/../../../evil-deep.txt", body: "pwned"}), "escapes"},
		{"absolute /tmp/evil", cpRawZip(t, index, cpEntry{name: "/tmp/evil", body: "pwned"}), "absolute"},
		{"absolute into test area", cpRawZip(t, index, cpEntry{name: filepath.Join(area, "evil-abs.txt"), body: "pwned"}), "absolute"},
		{"symlink to /etc/passwd", cpRawZip(t, index, cpEntry{name: "passwd", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}), "passwd"},
		{"symlink to ../../x", cpRawZip(t, index, cpEntry{name: "x", body: "../../x", mode: fs.ModeSymlink | 0o777}), "x"},
		{"write through symlink", cpRawZip(t, index,
			cpEntry{name: "out", body: "../..", mode: fs.ModeSymlink | 0o777},
			cpEntry{name: "out/evil-through-link.txt", body: "pwned"}), "out"},
		{"zip bomb, honest header", cpBombZip(t, bombMiB, bombMiB<<20), "262144000"},
		// archive/zip refuses to inflate past the declared size, so the
		// lie is caught as a corrupt file; the message is not pinned.
		{"zip bomb, lying header", cpBombZip(t, bombMiB, 1000), ""},
		{"junk bytes", []byte("this is not a zip file at all, just junk bytes\x00\x01\x02"), "Could not unzip"},
		{"truncated zip", cpRawZip(t, index)[:40], "Could not unzip"},
		{"empty zip bytes", []byte{}, "ZipFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "hostile-" + strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
					return r
				}
				return '-'
			}, tt.name)
			_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
				FunctionName: aws.String(name), Runtime: types.RuntimeNodejs20x, Handler: aws.String("index.handler"),
				Role: aws.String(cpRole), Code: &types.FunctionCode{ZipFile: tt.zip},
			})
			cpWantErr(t, err, "InvalidParameterValueException", 400, tt.msg)
			_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
			cpWantErr(t, err, "ResourceNotFoundException", 404, "")
		})
	}

	// Updating an existing function's code is held to the same rules.
	cpCreate(t, c, "victim", cpNodeZip(t, "A"), nil)
	before := cpConfig(t, c, "victim")
	for _, z := range [][]byte{tests[0].zip, tests[5].zip, tests[9].zip} {
		_, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("victim"), ZipFile: z})
		cpWantErr(t, err, "InvalidParameterValueException", 400, "")
	}
	cpSame(t, "hostile code updates", before, cpConfig(t, c, "victim"))

	t.Run("over 50 MB zip", func(t *testing.T) {
		// Random bytes stored uncompressed: the zip is > 52,428,800 bytes,
		// so its base64 in JSON is over the 69,905,067-byte request limit.
		big := make([]byte, 50<<20+1024)
		if _, err := rand.Read(big); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "random.bin", Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(big); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String("too-big"), Runtime: types.RuntimeNodejs20x, Handler: aws.String("index.handler"),
			Role: aws.String(cpRole), Code: &types.FunctionCode{ZipFile: buf.Bytes()},
		})
		cpWantErr(t, err, "RequestEntityTooLargeException", 413, "Request must be smaller than 69905067 bytes for the CreateFunction operation")
	})

	t.Run("request body over 69905067 bytes", func(t *testing.T) {
		body := make([]byte, 69905068)
		copy(body, `{"FunctionName":"too-big","Code":{"ZipFile":"`)
		for i := 45; i < len(body); i++ {
			body[i] = 'A'
		}
		for _, path := range []string{"/2015-03-31/functions", "/2015-03-31/functions/victim/code"} {
			method, op := "POST", "CreateFunction"
			if strings.HasSuffix(path, "/code") {
				method, op = "PUT", "UpdateFunctionCode"
			}
			r := cpRaw(t, s, method, path, body)
			if r.status != 413 || r.errorCode() != "RequestEntityTooLargeException" ||
				r.message(t) != "Request must be smaller than 69905067 bytes for the "+op+" operation" {
				t.Errorf("%s %s with %d bytes: %d %s %s", method, path, len(body), r.status, r.errorCode(), r.body)
			}
		}
	})

	// Nothing escaped: no evil* file anywhere in this test's temp area or
	// at the absolute path, and no "x" beside the data dir.
	err := filepath.WalkDir(area, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n := d.Name(); strings.HasPrefix(n, "evil") || (n == "x" && filepath.Dir(path) != s.Config.DataDir) {
			t.Errorf("archive wrote outside the code dir: %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat("/tmp/evil"); !tmpEvilExisted && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("/tmp/evil exists after the archive tests (lstat: %v)", err)
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(area), "evil.txt")); err == nil {
		t.Errorf("%s/evil.txt exists", filepath.Dir(area))
	}

	// The server is still healthy.
	cpCreate(t, c, "after-hostile", cpNodeZip(t, "ok"), nil)
	if v, _ := cpInvoke(t, c, "after-hostile"); v != "ok" {
		t.Errorf("invoke after hostile archives = %q, want ok", v)
	}
	if v, _ := cpInvoke(t, c, "victim"); v != "A" {
		t.Errorf("victim after hostile updates = %q, want A", v)
	}
}
