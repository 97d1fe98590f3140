package codecache

import (
	"archive/zip"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"gust/internal/lambda"
)

// Limits beyond the ones AWS documents, chosen so that no legitimate
// deployment package comes near them.
const (
	// MaxEntries caps the number of entries in a zip.
	MaxEntries = 100_000
	// maxSymlinkTarget is the longest symlink target accepted (Linux's
	// PATH_MAX minus the terminating NUL).
	maxSymlinkTarget = 4095
	// maxNameBytes caps one path component (Linux's NAME_MAX).
	maxNameBytes = 255
	// maxPathBytes caps a whole entry path, leaving room under PATH_MAX for
	// the cache directory that will hold it.
	maxPathBytes = 2048
)

// Wire messages. The corrupt and unzipped-size messages are the ones AWS
// Lambda sends.
const (
	msgCorrupt         = "Could not unzip uploaded file. Please check your file, then try to upload again."
	msgUnzippedTooBig  = "Unzipped size must be smaller than 262144000 bytes"
	msgZippedTooBig    = "Zipped size must be smaller than 52428800 bytes"
	msgTooManyEntries  = "Zip file has too many entries: the limit is 100000"
	msgInvalidEntryFmt = "Invalid zip entry %q: %s"
)

// Info describes a validated deployment package.
type Info struct {
	Sha256   string // base64 (std, padded) of SHA-256 of the zip bytes — Lambda's CodeSha256
	Size     int64  // zip bytes
	Unzipped int64  // sum of uncompressed file sizes
}

// Inspect validates zip bytes as a Lambda deployment package. Every error it
// returns is a *lambda.Error of kind lambda.KindInvalidParameterValue whose
// message says what is wrong and, for a bad entry, names it.
//
// Entry sizes in headers are not trusted: every file is stream-decompressed
// and its bytes counted against lambda.MaxUnzippedCodeBytes.
func Inspect(zip []byte) (Info, error) {
	p, err := parse(zip)
	if err != nil {
		return Info{}, err
	}
	if err := p.extract(discard{}); err != nil {
		return Info{}, err
	}
	sum := sha256.Sum256(zip)
	return Info{
		Sha256:   base64.StdEncoding.EncodeToString(sum[:]),
		Size:     int64(len(zip)),
		Unzipped: p.unzipped,
	}, nil
}

// kind is what an entry becomes on disk.
type kind uint8

const (
	kindDir kind = iota + 1
	kindFile
	kindSymlink
)

// entry is one validated zip entry.
type entry struct {
	f      *zip.File
	path   string // cleaned, slash-separated, relative, non-empty
	kind   kind
	exec   bool   // kindFile: any executable bit set in the archive
	target string // kindSymlink: the link target, verified to stay inside
}

// plan is a zip whose structure (names, kinds, conflicts, symlinks) has been
// validated; extract streams its file contents.
type plan struct {
	entries  []entry
	dirs     []string // every directory, explicit or implied, in creation order
	unzipped int64    // bytes decompressed so far (symlink targets, then files)
}

func corrupt() *lambda.Error { return lambda.KindInvalidParameterValue.Errorf(msgCorrupt) }

func tooBig() *lambda.Error { return lambda.KindInvalidParameterValue.Errorf(msgUnzippedTooBig) }

func badEntry(name, why string) *lambda.Error {
	return lambda.KindInvalidParameterValue.Errorf(msgInvalidEntryFmt, name, why)
}

// parse checks everything that does not need file contents, reading only
// symlink targets (small, capped). It rejects oversized, corrupt or hostile
// archives before a single file byte is decompressed.
func parse(b []byte) (*plan, error) {
	if len(b) > lambda.MaxZippedCodeBytes {
		return nil, lambda.KindInvalidParameterValue.Errorf(msgZippedTooBig)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		// ErrInsecurePath (GODEBUG zipinsecurepath=0) still returns a
		// usable reader; our own name checks are stricter and say more.
		return nil, corrupt()
	}
	if len(zr.File) > MaxEntries {
		return nil, lambda.KindInvalidParameterValue.Errorf(msgTooManyEntries)
	}
	if err := checkLayout(zr.File, int64(len(b))); err != nil {
		return nil, err
	}

	p := &plan{entries: make([]entry, 0, len(zr.File))}
	kinds := make(map[string]kind, len(zr.File))
	links := make(map[string]string)
	for _, f := range zr.File {
		e, skip, err := classify(f)
		if err != nil {
			return nil, err
		}
		if skip {
			continue
		}
		if err := p.claim(kinds, e); err != nil {
			return nil, err
		}
		if e.kind == kindSymlink {
			if e.target, err = p.readTarget(f); err != nil {
				return nil, err
			}
			links[e.path] = e.target
		}
		p.entries = append(p.entries, e)
	}
	budget := symlinkWork
	for _, e := range p.entries {
		if e.kind == kindSymlink {
			if err := checkLink(e.path, e.target, links, &budget); err != nil {
				return nil, badEntry(e.f.Name, err.Error())
			}
		}
	}
	return p, nil
}

// checkLayout checks declared sizes and that entries' data lie inside the
// archive without overlapping (overlapping entries are the trick behind
// non-recursive zip bombs; no real zip tool makes them).
func checkLayout(files []*zip.File, size int64) error {
	type span struct {
		start, end int64
		name       string
	}
	spans := make([]span, 0, len(files))
	var declared uint64
	for _, f := range files {
		declared += min(f.UncompressedSize64, lambda.MaxUnzippedCodeBytes+1)
		if declared > lambda.MaxUnzippedCodeBytes {
			return tooBig()
		}
		start, err := f.DataOffset()
		if err != nil || f.CompressedSize64 > uint64(size) || start+int64(f.CompressedSize64) > size {
			return corrupt()
		}
		spans = append(spans, span{start, start + int64(f.CompressedSize64), f.Name})
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end || spans[i].start == spans[i-1].start {
			return badEntry(spans[i].name, "its data overlaps another entry")
		}
	}
	return nil
}

// classify validates one entry's name and type. skip reports an entry for
// the root directory itself ("./"), which needs no action.
func classify(f *zip.File) (e entry, skip bool, err error) {
	clean, isDir, why := cleanName(f.Name)
	if why != "" {
		return entry{}, false, badEntry(f.Name, why)
	}
	if f.Flags&0x1 != 0 {
		return entry{}, false, badEntry(f.Name, "encrypted entries are not supported")
	}
	mode := f.Mode()
	switch t := mode.Type() &^ fs.ModeDir; {
	case t == fs.ModeSymlink && !isDir:
		e.kind = kindSymlink
	case t != 0:
		return entry{}, false, badEntry(f.Name, "unsupported file type")
	case isDir || mode.IsDir():
		e.kind = kindDir
	default:
		e.kind = kindFile
		e.exec = mode.Perm()&0o111 != 0
	}
	if clean == "" {
		if e.kind == kindDir {
			return entry{}, true, nil
		}
		return entry{}, false, badEntry(f.Name, "empty file name")
	}
	e.f, e.path = f, clean
	return e, false, nil
}

// cleanName turns an entry name into a relative slash-separated path. A
// backslash counts as a separator (Windows tools write them), so "..\x" is
// as much an escape as "../x". It returns a reason when the name is unsafe.
func cleanName(name string) (clean string, isDir bool, why string) {
	if name == "" {
		return "", false, "empty file name"
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", false, "name contains a NUL byte"
	}
	n := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(n, "/") || hasDrive(n) {
		return "", false, "absolute paths are not allowed"
	}
	isDir = strings.HasSuffix(n, "/")
	parts := strings.Split(n, "/")
	out := parts[:0]
	for _, p := range parts {
		switch {
		case p == "" || p == ".":
			continue
		case p == "..":
			return "", false, "path escapes the code directory"
		case len(p) > maxNameBytes:
			return "", false, "a path component is too long"
		}
		out = append(out, p)
	}
	clean = strings.Join(out, "/")
	if len(clean) > maxPathBytes {
		return "", false, "path is too long"
	}
	return clean, isDir, ""
}

// hasDrive reports a Windows drive prefix such as "C:".
func hasDrive(s string) bool {
	return len(s) >= 2 && s[1] == ':' && ('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z')
}

// claim records e's path and its implied parent directories, rejecting a
// name used twice (except a directory repeated), a file or symlink used as
// a directory, and any path through a symlink (which would let one entry
// write where another points).
func (p *plan) claim(kinds map[string]kind, e entry) error {
	for i := 0; ; {
		j := strings.IndexByte(e.path[i:], '/')
		if j < 0 {
			break
		}
		parent := e.path[:i+j]
		switch kinds[parent] {
		case 0:
			kinds[parent] = kindDir
			p.dirs = append(p.dirs, parent)
		case kindFile:
			return badEntry(e.f.Name, "a parent path is a file in the same archive")
		case kindSymlink:
			return badEntry(e.f.Name, "a parent path is a symlink in the same archive")
		}
		i += j + 1
	}
	switch prev := kinds[e.path]; {
	case prev == 0:
		kinds[e.path] = e.kind
		if e.kind == kindDir {
			p.dirs = append(p.dirs, e.path)
		}
	case prev == kindDir && e.kind == kindDir:
		// A repeated or implied directory: harmless.
	default:
		return badEntry(e.f.Name, "duplicate or conflicting name")
	}
	return nil
}

// readTarget reads a symlink entry's target, counting it toward the unzipped
// total.
func (p *plan) readTarget(f *zip.File) (string, error) {
	if f.UncompressedSize64 > maxSymlinkTarget {
		return "", badEntry(f.Name, "symlink target is too long")
	}
	rc, err := f.Open()
	if err != nil {
		return "", corrupt()
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSymlinkTarget+1))
	if err != nil {
		return "", corrupt()
	}
	if len(b) > maxSymlinkTarget {
		return "", badEntry(f.Name, "symlink target is too long")
	}
	p.unzipped += int64(len(b))
	if p.unzipped > lambda.MaxUnzippedCodeBytes {
		return "", tooBig()
	}
	target := string(b)
	switch {
	case target == "":
		return "", badEntry(f.Name, "symlink target is empty")
	case strings.IndexByte(target, 0) >= 0:
		return "", badEntry(f.Name, "symlink target contains a NUL byte")
	case strings.HasPrefix(target, "/"), strings.HasPrefix(target, `\`), hasDrive(target):
		return "", badEntry(f.Name, fmt.Sprintf("symlink target %q is absolute", target))
	}
	return target, nil
}
