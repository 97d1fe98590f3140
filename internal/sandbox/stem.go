package sandbox

import "strings"

// Stem is a runtime to keep started in shells (stem cells): an
// interpreter with Gust's bootstrap loaded, stopped where the bootstrap
// first needs the function (see the bootstraps' stem wait). A cold start
// whose spec runs the same command takes one: the init mounts the code,
// and the runtime gets the function's whole environment and working
// directory, replacing its own, before it reads either.
//
// What an interpreter reads while it starts cannot be replaced later: a
// spec fits a stem only when every variable that can change an
// interpreter's start-up (stemSensitive) is the same, in the same order,
// in both environments. Everything else a function sees is the same as
// in a fresh environment; the runtime's environment block
// (/proc/self/environ) is the function's environment followed by zeros.
type Stem struct {
	// Name names the stem's pool, e.g. "python".
	Name string
	// Spec is a spec of the runtime as a fresh start would have it for a
	// function with no configuration of its own: its Argv, RuntimeDir,
	// and the environment every function of the runtime starts with.
	// CodeDir names a directory standing for each function's code.
	Spec Spec
	// Count is how many to keep ready.
	Count int
}

// stemVarEnv names the descriptor a stem runtime reads its function's
// environment from; the bootstraps look for it.
const stemVarEnv = "_GUST_STEM_FD"

// stemPadEnv is a variable whose value only reserves stemPadBytes in a
// stem runtime's environment block, for its function's environment
// (Lambda's own variables and the function's 4 KB, with room to spare).
const (
	stemPadEnv   = "_GUST_STEM_PAD"
	stemPadBytes = 64 << 10
)

// stemSensitive reports whether an interpreter may read the variable
// kv ("KEY=value") while it starts, before the bootstrap runs: Python's
// and Node's own settings, the dynamic loader's, the C library's locale,
// time zone and allocator, OpenSSL's, and HOME (Python's user site).
func stemSensitive(kv string) bool {
	key, _, _ := strings.Cut(kv, "=")
	for _, p := range []string{"PYTHON", "NODE_", "UV_", "LD_", "LC_", "MALLOC_", "GLIBC_", "OPENSSL_", "SSL_CERT_"} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	switch key {
	case "PATH", "LANG", "LANGUAGE", "TZ", "HOME", "TMPDIR":
		return true
	}
	return false
}

// sensitiveEnv is env's stemSensitive entries, in order.
func sensitiveEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if stemSensitive(kv) {
			out = append(out, kv)
		}
	}
	return out
}
