// Package lazyre holds regular expressions that are compiled on first use.
//
// A package-level regexp.MustCompile runs in every process of the gust
// binary before main, and that includes each linux sandbox's init, which
// never validates a name. Patterns with bounded repeats such as
// [A-Za-z0-9_-]{1,256} compile to programs of hundreds of instructions:
// the validation patterns cost a fresh sandbox about 2 ms of start-up and
// 1.5 MB of heap it kept. The standard library has the same helper for
// the go command (internal/lazyregexp), which cannot be imported.
package lazyre

import (
	"regexp"
	"sync"
	"testing"
)

// Regexp is a regexp.Regexp compiled the first time it is used.
type Regexp struct {
	str  string
	once sync.Once
	rx   *regexp.Regexp
}

// New returns a Regexp for str, which must compile. In a test binary it
// is compiled at once, so that a bad pattern fails where it is declared.
func New(str string) *Regexp {
	r := &Regexp{str: str}
	if testing.Testing() {
		r.Regexp()
	}
	return r
}

// Regexp returns the compiled expression; it panics if str is invalid.
func (r *Regexp) Regexp() *regexp.Regexp {
	r.once.Do(func() { r.rx = regexp.MustCompile(r.str) })
	return r.rx
}

// MatchString is regexp.Regexp.MatchString.
func (r *Regexp) MatchString(s string) bool { return r.Regexp().MatchString(s) }

// FindStringSubmatch is regexp.Regexp.FindStringSubmatch.
func (r *Regexp) FindStringSubmatch(s string) []string { return r.Regexp().FindStringSubmatch(s) }

// FindSubmatch is regexp.Regexp.FindSubmatch.
func (r *Regexp) FindSubmatch(b []byte) [][]byte { return r.Regexp().FindSubmatch(b) }

// FindAllStringSubmatch is regexp.Regexp.FindAllStringSubmatch.
func (r *Regexp) FindAllStringSubmatch(s string, n int) [][]string {
	return r.Regexp().FindAllStringSubmatch(s, n)
}

// String returns the source text.
func (r *Regexp) String() string { return r.str }
