package iam

import (
	"crypto/rand"
	"strings"

	"gust/internal/lazyre"
)

// IAM's patterns: user and role names are 1 to 64 of [\w+=,.@-]; role
// session names 2 to 64.
var (
	namePattern        = lazyre.New(`^[\w+=,.@-]{1,64}$`)
	sessionNamePattern = lazyre.New(`^[\w+=,.@-]{2,64}$`)
	accountPattern     = lazyre.New(`^[0-9]{12}$`)
)

// checkName validates a user or role name; field is the request member
// named in the message ("userName", "roleName").
func checkName(field, name string) error {
	if !namePattern.MatchString(name) {
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: "+
			"Member must satisfy regular expression pattern: [\\w+=,.@-]{1,64}", truncate(name), field)
	}
	return nil
}

// truncate bounds caller-supplied text echoed in messages.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// fold is the case-insensitive identity of a name.
func fold(name string) string { return strings.ToLower(name) }

// keyToken renders a valid name as one NATS KV key token: lowercased,
// with every byte outside [a-z0-9_-] (including '=' itself and '.', the
// token separator) escaped as =XX.
func keyToken(name string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for _, c := range []byte(fold(name)) {
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

const (
	userPrefix    = "user."
	rolePrefix    = "role."
	sessionKeyKey = "session-key"
)

func userKey(name string) string { return userPrefix + keyToken(name) }
func roleKey(name string) string { return rolePrefix + keyToken(name) }

// Alphabets of generated identifiers, each of a length dividing 256 so
// that a random byte picks uniformly.
const (
	base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// randomString draws n characters uniformly from alphabet.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	for i, c := range b {
		b[i] = alphabet[int(c)%len(alphabet)]
	}
	return string(b)
}

// Identifier prefixes, as AWS uses them: long-term and temporary access
// keys, user ids and role ids.
const (
	longTermKeyPrefix  = "AKIA"
	temporaryKeyPrefix = "ASIA"
	userIDPrefix       = "AIDA"
	roleIDPrefix       = "AROA"
)

// newAccessKey issues a long-term key pair.
func newAccessKey() AccessKey {
	return AccessKey{ID: longTermKeyPrefix + randomString(16, base32Alphabet), Secret: randomString(40, secretAlphabet)}
}
