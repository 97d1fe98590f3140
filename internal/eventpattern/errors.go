package eventpattern

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// InvalidPatternError is the error Compile returns for every pattern it
// rejects. Its Error() has the form of EventBridge's
// InvalidEventPatternException message, so an API layer can put it on the
// wire as it is.
type InvalidPatternError struct {
	// Reason says what is wrong, e.g. "Empty arrays are not allowed".
	Reason string
	// Line and Column locate the problem in the pattern text (1-based, in
	// characters), just after the token that revealed it. Both are 0 when
	// the problem concerns the pattern as a whole (its length, its
	// complexity).
	Line, Column int

	// source is the pattern text, shortened as EventBridge's parser
	// shortens it in messages.
	source string
}

// sourceExcerptLimit is how much of the pattern the message quotes; longer
// patterns are cut and the cut is counted, as EventBridge's parser does.
const sourceExcerptLimit = 500

func (e *InvalidPatternError) Error() string {
	var b strings.Builder
	b.WriteString("Event pattern is not valid. Reason: ")
	b.WriteString(e.Reason)
	if e.Line > 0 {
		fmt.Fprintf(&b, "\n at [Source: (String)\"%s; line: %d, column: %d]", e.source, e.Line, e.Column)
	}
	return b.String()
}

// newPositionedError builds an InvalidPatternError located at byte offset
// off of src.
func newPositionedError(src []byte, off int64, reason string) *InvalidPatternError {
	if off < 0 {
		off = 0
	}
	if off > int64(len(src)) {
		off = int64(len(src))
	}
	before := src[:off]
	line := 1 + bytes.Count(before, []byte{'\n'})
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	column := utf8.RuneCount(before[lineStart:]) + 1
	return &InvalidPatternError{Reason: reason, Line: line, Column: column, source: sourceExcerpt(src)}
}

// sourceExcerpt renders the quoted part of the "[Source: …]" suffix: the
// text and its closing quote, then the count of characters left out.
func sourceExcerpt(src []byte) string {
	if utf8.RuneCount(src) <= sourceExcerptLimit {
		return string(src) + `"`
	}
	var b strings.Builder
	rest := src
	for i := 0; i < sourceExcerptLimit; i++ {
		_, n := utf8.DecodeRune(rest)
		b.Write(rest[:n])
		rest = rest[n:]
	}
	fmt.Fprintf(&b, `"[truncated %d chars]`, utf8.RuneCount(rest))
	return b.String()
}
