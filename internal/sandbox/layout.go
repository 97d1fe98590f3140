package sandbox

import (
	"path/filepath"
	"strings"
)

// Lambda's layout, as the runtime sees it inside the linux sandbox.
const (
	TaskRoot    = "/var/task"    // the function's code, read-only; the working directory
	RuntimeRoot = "/var/runtime" // the runtime bootstraps, read-only
)

// pathMap rewrites host paths into the paths the sandboxed runtime sees.
type pathMap struct {
	from, to []string // parallel: host prefix → sandbox path
}

func newPathMap(codeDir, runtimeDir string) pathMap {
	var m pathMap
	// The longer prefix first, so a runtime dir inside the code dir (or the
	// reverse) maps to the more specific place.
	pairs := [][2]string{{filepath.Clean(codeDir), TaskRoot}, {filepath.Clean(runtimeDir), RuntimeRoot}}
	if len(pairs[1][0]) > len(pairs[0][0]) {
		pairs[0], pairs[1] = pairs[1], pairs[0]
	}
	for _, p := range pairs {
		if p[0] == "." || p[0] == "/" {
			continue
		}
		m.from = append(m.from, p[0])
		m.to = append(m.to, p[1])
	}
	return m
}

// rewrite replaces every occurrence of a mapped host directory in s that
// stands as a whole path component: followed by the end, '/' or ':' (a
// search-path separator) and preceded by the start, '=' or ':'. So
// "LD_LIBRARY_PATH=/lib:<code>:<code>/lib" and "<runtime>/node/x.mjs" are
// rewritten, and "<code>x" or "/other<code>" are not.
func (m pathMap) rewrite(s string) string {
	for i, from := range m.from {
		if !strings.Contains(s, from) {
			continue
		}
		var b strings.Builder
		rest := s
		for {
			j := strings.Index(rest, from)
			if j < 0 {
				b.WriteString(rest)
				break
			}
			end := j + len(from)
			// At j == 0 the char before is the end of the previous
			// occurrence (never '=' or ':'), or there is none at all.
			before := j == 0 && b.Len() == 0 || j > 0 && (rest[j-1] == '=' || rest[j-1] == ':')
			after := end == len(rest) || rest[end] == '/' || rest[end] == ':'
			b.WriteString(rest[:j])
			if before && after {
				b.WriteString(m.to[i])
			} else {
				b.WriteString(from)
			}
			rest = rest[end:]
		}
		s = b.String()
	}
	return s
}

// rewriteAll rewrites each string of ss into a new slice.
func (m pathMap) rewriteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = m.rewrite(s)
	}
	return out
}
