package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gust/internal/lambda"
)

// Verifier checks SigV4 signatures against a table of secret keys.
type Verifier struct {
	// Secret returns the secret key for an access key id and the session
	// token the request carries ("" for long-term keys), ok=false if the
	// pair is unknown, expired or invalid.
	Secret func(accessKeyID, sessionToken string) (secret string, ok bool)
	// MaxSkew is how far X-Amz-Date may be from Now, either way. 0 = 5 minutes.
	MaxSkew time.Duration
	// Now is the clock. nil = time.Now.
	Now func() time.Time

	keys signingKeys
}

// Principal is what a verified request proves: the access key, the
// session token signed with it (temporary credentials only) and the
// credential scope.
type Principal struct{ AccessKeyID, SessionToken, Region, Service string }

const (
	amzDateFormat = "20060102T150405Z"
	maxExpires    = 7 * 24 * 60 * 60 // seconds; AWS's bound on X-Amz-Expires

	msgMismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// scope is the credential scope date/region/service/aws4_request.
type scope struct{ date, region, service string }

func (s scope) String() string { return s.date + "/" + s.region + "/" + s.service + "/aws4_request" }

// signed is what the client claims: who, when, over which headers, and the signature.
type signed struct {
	accessKeyID string
	token       string // X-Amz-Security-Token; "" for long-term keys
	scope       scope
	headers     []string
	signature   string
	amzDate     string
	expires     int // presigned only; -1 when absent
	presigned   bool
}

func invalid(format string, args ...any) error {
	return lambda.KindInvalidSignature.Errorf(format, args...)
}

// Precheck does every check that does not need the body: the signature's
// form, a known access key and the clock. Servers call it before reading a
// large body, so an unknown caller cannot make them buffer one. Verify
// repeats it; errors are the same.
func (v *Verifier) Precheck(r *http.Request) error {
	_, _, err := v.identify(r)
	return err
}

// identify parses the signature and checks key and time.
func (v *Verifier) identify(r *http.Request) (signed, string, error) {
	var s signed
	var err error
	if q := r.URL.Query(); q.Has("X-Amz-Signature") || q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") {
		if len(r.Header.Values("Authorization")) > 0 {
			return s, "", invalid("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified")
		}
		s, err = parsePresigned(r)
	} else {
		s, err = parseHeader(r)
	}
	if err != nil {
		return s, "", err
	}
	if v.Secret == nil {
		return s, "", lambda.KindUnrecognizedClient.Errorf("The security token included in the request is invalid.")
	}
	secret, ok := v.Secret(s.accessKeyID, s.token)
	if !ok {
		return s, "", lambda.KindUnrecognizedClient.Errorf("The security token included in the request is invalid.")
	}
	if err := v.checkTime(s); err != nil {
		return s, "", err
	}
	return s, secret, nil
}

// Verify checks r's signature over body (the full request body, already
// read). It does not touch r.Body. Errors are *lambda.Error:
// InvalidSignature for missing, malformed, stale or wrong signatures and
// UnrecognizedClient for an unknown access key id.
func (v *Verifier) Verify(r *http.Request, body []byte) (Principal, error) {
	s, secret, err := v.identify(r)
	if err != nil {
		return Principal{}, err
	}
	payloadHash, err := payloadHash(r, body)
	if err != nil {
		return Principal{}, err
	}
	drop := ""
	if s.presigned {
		drop = "X-Amz-Signature"
	}
	query, err := canonicalQuery(r.URL.RawQuery, drop)
	if err != nil {
		return Principal{}, invalid("Malformed query string: %v", err)
	}
	headers := canonicalHeaders(r, s.headers)
	canonical := canonicalRequest(r.Method, canonicalURI(r), query, headers, s.headers, payloadHash)
	if want := signature(v.keys.get(secret, s.scope), s.amzDate, s.scope, canonical); !hmac.Equal([]byte(want), []byte(s.signature)) {
		return Principal{}, invalid(msgMismatch)
	}
	return Principal{AccessKeyID: s.accessKeyID, SessionToken: s.token, Region: s.scope.region, Service: s.scope.service}, nil
}

// parseHeader reads "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…".
func parseHeader(r *http.Request) (signed, error) {
	auths := r.Header.Values("Authorization")
	switch {
	case len(auths) == 0:
		return signed{}, invalid("Missing Authentication Token: the request has no Authorization header and no X-Amz-Signature query parameter.")
	case len(auths) > 1:
		return signed{}, invalid("Only one Authorization header is allowed.")
	}
	alg, rest, _ := strings.Cut(strings.TrimSpace(auths[0]), " ")
	if alg != algorithm {
		return signed{}, invalid("Unsupported authorization algorithm %q; only %s is supported.", truncate(alg), algorithm)
	}
	params := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return signed{}, invalid("Authorization header requires each component to be of the form key=value; got %q.", truncate(part))
		}
		params[k] = val
	}
	s, err := fromParams(params["Credential"], params["SignedHeaders"], params["Signature"], "Authorization header")
	if err != nil {
		return signed{}, err
	}
	s.amzDate = r.Header.Get("X-Amz-Date")
	if s.amzDate == "" {
		return signed{}, invalid("Authorization header requires existence of the 'X-Amz-Date' header.")
	}
	tokens := r.Header.Values("X-Amz-Security-Token")
	if len(tokens) > 1 {
		return signed{}, invalid("Only one X-Amz-Security-Token header is allowed.")
	}
	if len(tokens) == 1 {
		s.token = tokens[0]
	}
	s.expires = -1
	return s, nil
}

// parsePresigned reads the X-Amz-* query parameters of a presigned URL.
func parsePresigned(r *http.Request) (signed, error) {
	q := r.URL.Query()
	if alg := q.Get("X-Amz-Algorithm"); alg != algorithm {
		return signed{}, invalid("Unsupported X-Amz-Algorithm %q; only %s is supported.", truncate(alg), algorithm)
	}
	s, err := fromParams(q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature"), "Query-string authentication")
	if err != nil {
		return signed{}, err
	}
	s.presigned = true
	s.token = q.Get("X-Amz-Security-Token")
	if s.amzDate = q.Get("X-Amz-Date"); s.amzDate == "" {
		return signed{}, invalid("Query-string authentication requires the X-Amz-Date parameter.")
	}
	s.expires = -1
	if e := q.Get("X-Amz-Expires"); e != "" {
		n, err := strconv.Atoi(e)
		if err != nil || n < 1 || n > maxExpires {
			return signed{}, invalid("X-Amz-Expires must be a whole number of seconds between 1 and %d; got %q.", maxExpires, truncate(e))
		}
		s.expires = n
	}
	return s, nil
}

// fromParams validates the credential, signed-header list and signature
// common to both forms. where names the form in messages.
func fromParams(cred, headers, sig, where string) (signed, error) {
	if cred == "" || headers == "" || sig == "" {
		return signed{}, invalid("%s requires 'Credential', 'SignedHeaders' and 'Signature' parameters.", where)
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[0] == "" || parts[2] == "" || parts[3] == "" || parts[4] != "aws4_request" {
		return signed{}, invalid("Credential should be scoped to a valid region and service, in the form <key>/<yyyymmdd>/<region>/<service>/aws4_request; got %q.", truncate(cred))
	}
	if _, err := time.Parse("20060102", parts[1]); err != nil {
		return signed{}, invalid("Credential scope date %q is not of the form yyyymmdd.", truncate(parts[1]))
	}
	list := strings.Split(headers, ";")
	hasHost := false
	for _, h := range list {
		if h == "" || h != strings.ToLower(h) {
			return signed{}, invalid("SignedHeaders must be a ';'-separated list of lowercase header names; got %q.", truncate(headers))
		}
		hasHost = hasHost || h == "host"
	}
	if !hasHost {
		return signed{}, invalid("'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	sig = strings.ToLower(sig)
	if _, err := hex.DecodeString(sig); err != nil || len(sig) != 2*sha256.Size {
		return signed{}, invalid("Signature must be %d hexadecimal characters.", 2*sha256.Size)
	}
	return signed{
		accessKeyID: parts[0],
		scope:       scope{date: parts[1], region: parts[2], service: parts[3]},
		headers:     list,
		signature:   sig,
	}, nil
}

// checkTime checks the request date against the scope date, the clock skew
// and, for presigned URLs, X-Amz-Expires.
func (v *Verifier) checkTime(s signed) error {
	t, err := time.Parse(amzDateFormat, s.amzDate)
	if err != nil {
		return invalid("X-Amz-Date %q must be in ISO-8601 basic format (yyyyMMdd'T'HHmmss'Z').", truncate(s.amzDate))
	}
	if d := t.Format("20060102"); d != s.scope.date {
		return invalid("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", s.scope.date, d, s.amzDate)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	n := now().UTC().Truncate(time.Second)
	skew := v.MaxSkew
	if skew <= 0 {
		skew = 5 * time.Minute
	}
	if late := n.Add(skew); t.After(late) {
		return invalid("Signature not yet current: %s is still later than %s (%s + %s)",
			s.amzDate, late.Format(amzDateFormat), n.Format(amzDateFormat), skewText(skew))
	}
	if s.expires >= 0 {
		if end := t.Add(time.Duration(s.expires) * time.Second); n.After(end) {
			return invalid("Request has expired: signed at %s for %d seconds, now %s.", s.amzDate, s.expires, n.Format(amzDateFormat))
		}
		return nil
	}
	if early := n.Add(-skew); t.Before(early) {
		return invalid("Signature expired: %s is now earlier than %s (%s - %s)",
			s.amzDate, early.Format(amzDateFormat), n.Format(amzDateFormat), skewText(skew))
	}
	return nil
}

// skewText renders a skew as AWS does ("5 min."), falling back to Go's form.
func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min.", d/time.Minute)
	}
	return d.String()
}

// payloadHash is the hash the client signed: x-amz-content-sha256 when sent
// (UNSIGNED-PAYLOAD, or a hex hash that must match body), else hex
// SHA-256 of body.
func payloadHash(r *http.Request, body []byte) (string, error) {
	sum := sha256.Sum256(body)
	actual := hex.EncodeToString(sum[:])
	claimed := r.Header.Get("X-Amz-Content-Sha256")
	if claimed == "" {
		claimed = r.URL.Query().Get("X-Amz-Content-Sha256")
	}
	switch {
	case claimed == "":
		return actual, nil
	case claimed == "UNSIGNED-PAYLOAD":
		return claimed, nil
	case strings.EqualFold(claimed, actual):
		return claimed, nil
	case len(claimed) == len(actual):
		return "", invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
	default:
		return "", invalid("Unsupported 'x-amz-content-sha256' value %q; send the hex SHA-256 of the body or UNSIGNED-PAYLOAD.", truncate(claimed))
	}
}

// truncate bounds attacker-controlled text echoed in error messages.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
