package codecache

import (
	"errors"
	"fmt"
	"io"

	"gust/internal/lambda"
)

// sink receives a validated plan's contents. Inspect uses one that discards
// everything; the cache writes through an os.Root.
type sink interface {
	mkdir(path string) error
	// file writes r, which yields errTooBig or a *zipReadError when the
	// archive misbehaves; file must return such errors unchanged or wrapped.
	file(e *entry, r io.Reader) error
	symlink(path, target string) error
}

// errTooBig reports that decompressed bytes went past the unzipped limit.
var errTooBig = errors.New("unzipped size limit exceeded")

// zipReadError marks a failure to read the archive itself, as opposed to a
// failure of the sink.
type zipReadError struct{ err error }

func (e *zipReadError) Error() string { return "read zip: " + e.err.Error() }
func (e *zipReadError) Unwrap() error { return e.err }

// extract streams every file of p into s: directories first, then files in
// archive order, then symlinks, so no write can pass through a link made
// from the same archive even if validation missed one. Bytes are counted as
// they are decompressed; the headers' sizes are not trusted.
func (p *plan) extract(s sink) error {
	for _, d := range p.dirs {
		if err := s.mkdir(d); err != nil {
			return fmt.Errorf("create directory %q: %w", d, err)
		}
	}
	for i := range p.entries {
		e := &p.entries[i]
		if e.kind != kindFile {
			continue
		}
		if err := p.copyFile(s, e); err != nil {
			return err
		}
	}
	for _, e := range p.entries {
		if e.kind != kindSymlink {
			continue
		}
		if err := s.symlink(e.path, e.target); err != nil {
			return fmt.Errorf("create symlink %q: %w", e.path, err)
		}
	}
	return nil
}

func (p *plan) copyFile(s sink, e *entry) error {
	rc, err := e.f.Open()
	if err != nil {
		return corrupt()
	}
	defer rc.Close()
	r := &budgetReader{r: rc, left: lambda.MaxUnzippedCodeBytes - p.unzipped}
	err = s.file(e, r)
	p.unzipped += r.n
	var zre *zipReadError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errTooBig):
		return tooBig()
	case errors.As(err, &zre):
		return corrupt()
	default:
		return fmt.Errorf("write %q: %w", e.path, err)
	}
}

// budgetReader counts decompressed bytes and fails once they exceed left,
// tagging the archive's own read errors as *zipReadError.
type budgetReader struct {
	r    io.Reader
	left int64 // bytes still allowed
	n    int64 // bytes read
}

func (b *budgetReader) Read(buf []byte) (int, error) {
	if int64(len(buf)) > b.left+1 {
		buf = buf[:b.left+1] // one byte past the budget is enough to know
	}
	n, err := b.r.Read(buf)
	b.n += int64(n)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, errTooBig
	}
	if err != nil && err != io.EOF {
		err = &zipReadError{err}
	}
	return n, err
}

// discard is the sink of Inspect: it only drains file contents.
type discard struct{}

func (discard) mkdir(string) error           { return nil }
func (discard) symlink(string, string) error { return nil }
func (discard) file(_ *entry, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
