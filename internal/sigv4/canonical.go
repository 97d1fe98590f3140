package sigv4

// The canonicalizer is written by hand rather than borrowed from
// aws-sdk-go-v2's aws/signer/v4, which can sign but has no verify call.
// Verifying by re-signing a rebuilt request with it is fragile: the signer
// chooses the signed header set itself (it adds content-length whenever
// ContentLength > 0 and skips headers on its own ignore list), while a
// verifier must canonicalize exactly the headers the client listed in
// SignedHeaders, which for botocore is nearly every header and usually not
// content-length; and it mutates the request it signs. Building the client's
// canonical request directly is about as short and has none of these quirks.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

const algorithm = "AWS4-HMAC-SHA256"

// canonicalURI returns the canonical URI of r: the escaped path as sent,
// escaped a second time (the rule for every service but S3).
//
// botocore removes dot segments and duplicate slashes before signing; the Go
// SDK does not. Gust uses the path as sent, so a botocore request whose path
// has "//", "." or ".." segments fails to verify. Lambda's API paths never
// contain them, and accepting the normalized form too would let a captured
// signature be replayed against a path the router may read differently.
func canonicalURI(r *http.Request) string {
	p := r.URL.RawPath // the path exactly as sent, when it differs from Go's default escaping
	if p == "" {
		p = r.URL.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return escape(p, true)
}

// canonicalQuery decodes the raw query and re-encodes it in SigV4 form:
// every key and value RFC 3986-escaped (space as %20), pairs sorted by
// encoded key then encoded value, "k=" for an empty value. drop names a
// parameter to leave out (X-Amz-Signature in the presigned form).
func canonicalQuery(raw, drop string) (string, error) {
	type pair struct{ k, v string }
	var pairs []pair
	for seg := range strings.SplitSeq(raw, "&") {
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return "", err
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", err
		}
		if drop != "" && dk == drop {
			continue
		}
		pairs = append(pairs, pair{escape(dk, false), escape(dv, false)})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String(), nil
}

// canonicalHeaders renders "name:value\n" for each signed header, in the
// order the client listed them. host comes from r.Host; content-length falls
// back to r.ContentLength because Go's client never puts it in r.Header.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		switch values := r.Header.Values(name); {
		case name == "host":
			h := r.Host
			if h == "" {
				h = r.URL.Host
			}
			b.WriteString(trimValue(h))
		case name == "content-length" && len(values) == 0:
			b.WriteString(strconv.FormatInt(max(r.ContentLength, 0), 10))
		default:
			for i, v := range values {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(trimValue(v))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// trimValue trims surrounding whitespace and collapses runs of spaces.
func trimValue(v string) string {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// escape percent-encodes every byte outside RFC 3986's unreserved set
// (A-Z a-z 0-9 - _ . ~), with uppercase hex; '/' is kept when keepSlash.
func escape(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || c == '/' && keepSlash {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// canonicalRequest joins the six parts of a SigV4 canonical request.
func canonicalRequest(method, uri, query, headers string, signed []string, payloadHash string) string {
	return strings.Join([]string{method, uri, query, headers, strings.Join(signed, ";"), payloadHash}, "\n")
}

// signature computes the hex signature of canonical with the signing key
// of the credential scope sc (signingKey) and the request time amzDate.
func signature(key []byte, amzDate string, sc scope, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	toSign := algorithm + "\n" + amzDate + "\n" + sc.String() + "\n" + hex.EncodeToString(sum[:])
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

// signingKey derives the key that signs requests of the credential scope
// date/region/service/aws4_request with secret.
func signingKey(secret string, sc scope) []byte {
	key := hmacSHA256([]byte("AWS4"+secret), sc.date)
	key = hmacSHA256(key, sc.region)
	key = hmacSHA256(key, sc.service)
	return hmacSHA256(key, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
