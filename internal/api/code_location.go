package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gust/internal/lambda"
)

// codeURLLifetime is how long a GetFunction code link stays valid, as
// Lambda's presigned S3 links do.
const codeURLLifetime = 10 * time.Minute

// codeURL returns a short-lived link to download fn's zip. The link is an
// HMAC-signed token (sha and expiry) rather than a SigV4 presigned URL,
// because its only reader is Gust itself.
func (a *API) codeURL(r *http.Request, fn *lambda.Function) string {
	payload := fn.CodeSha256 + "|" + strconv.FormatInt(time.Now().Add(codeURLLifetime).Unix(), 10)
	token := base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + a.codeMAC(payload)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/_gust/code/" + token
}

func (a *API) codeMAC(payload string) string {
	m := hmac.New(sha256.New, a.opts.CodeURLSecret)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// downloadCode serves a zip named by a valid, unexpired token.
func (a *API) downloadCode(w http.ResponseWriter, r *http.Request) {
	enc, mac, ok := strings.Cut(r.PathValue("token"), ".")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if !ok || err != nil || !hmac.Equal([]byte(mac), []byte(a.codeMAC(string(raw)))) {
		http.Error(w, "invalid or expired link", http.StatusForbidden)
		return
	}
	sha, exp, _ := strings.Cut(string(raw), "|")
	expiry, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || time.Now().Unix() > expiry {
		http.Error(w, "invalid or expired link", http.StatusForbidden)
		return
	}
	zip, err := a.opts.Store.GetCode(r.Context(), sha)
	if err != nil {
		http.Error(w, "code not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", strconv.Itoa(len(zip)))
	_, _ = w.Write(zip)
}
