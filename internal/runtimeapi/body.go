package runtimeapi

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// errTooLarge means a request body went past the limit.
var errTooLarge = errors.New("body exceeds the payload limit")

// maxPooledBuffer is the largest scratch buffer kept for reuse; bigger ones
// are left to the garbage collector so a rare large response does not pin
// megabytes per server.
const maxPooledBuffer = 64 << 10

var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// readBody reads a request body of at most limit bytes. It returns
// errTooLarge, without reading further, as soon as the body is known to be
// longer; any other error means the body was cut short. The returned slice
// is owned by the caller and is nil for an empty body.
func readBody(r io.Reader, contentLength int64, limit int) ([]byte, error) {
	if contentLength > int64(limit) {
		return nil, errTooLarge
	}
	if contentLength == 0 {
		return nil, nil
	}
	if contentLength > 0 {
		b := make([]byte, contentLength)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		return b, nil
	}
	// Unknown length (chunked): read into a reused buffer, then copy out
	// exactly what arrived.
	p := scratch.Get().(*[]byte)
	b := (*p)[:0]
	defer func() {
		if cap(b) <= maxPooledBuffer {
			*p = b[:0]
			scratch.Put(p)
		}
	}()
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(max(cap(b), 512), limit+1-len(b)))
		}
		n, err := r.Read(b[len(b):min(cap(b), limit+1)])
		b = b[:len(b)+n]
		if len(b) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
	}
	if len(b) == 0 {
		return nil, nil
	}
	return append([]byte(nil), b...), nil
}
