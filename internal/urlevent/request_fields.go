package urlevent

import (
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// hopByHop names the headers that describe one connection, not the request;
// a function URL's front end never forwards them.
var hopByHop = map[string]bool{
	"connection":          true,
	"keep-alive":          true,
	"proxy-connection":    true,
	"proxy-authenticate":  true,
	"proxy-authorization": true,
	"te":                  true,
	"trailer":             true,
	"transfer-encoding":   true,
	"upgrade":             true,
}

// eventHeaders returns the event's headers map and cookies array. host is
// the Host the client used (r.Host when empty); sourceIP is the TCP peer.
func eventHeaders(r *http.Request, host, sourceIP string) (map[string]string, []string) {
	headers := make(map[string]string, len(r.Header)+4)
	var cookies []string
	// Headers listed in Connection are hop-by-hop for this request too.
	dropped := maps.Clone(hopByHop)
	for _, v := range r.Header.Values("Connection") {
		for token := range strings.SplitSeq(v, ",") {
			dropped[strings.ToLower(strings.TrimSpace(token))] = true
		}
	}
	// Sorted so that names differing only in case (possible when a caller
	// builds r.Header by hand) merge in a stable order.
	for _, name := range slices.Sorted(maps.Keys(r.Header)) {
		values := r.Header[name]
		lower := strings.ToLower(name)
		switch {
		case lower == "cookie":
			for _, v := range values {
				cookies = append(cookies, splitCookies(v)...)
			}
		case dropped[lower]:
		default:
			joined := strings.Join(values, ",")
			if prev, ok := headers[lower]; ok {
				joined = prev + "," + joined
			}
			headers[lower] = joined
		}
	}

	// Go's server moves Host out of r.Header; the function still sees it.
	if host == "" {
		host = r.Host
	}
	headers["host"] = host
	if prev := headers["x-forwarded-for"]; prev != "" {
		headers["x-forwarded-for"] = prev + ", " + sourceIP
	} else {
		headers["x-forwarded-for"] = sourceIP
	}
	// A proxy in front of Gust knows the client's scheme and port better
	// than we do, so its values win; otherwise describe our own listener.
	if _, ok := headers["x-forwarded-proto"]; !ok {
		headers["x-forwarded-proto"] = scheme(r)
	}
	if _, ok := headers["x-forwarded-port"]; !ok {
		headers["x-forwarded-port"] = listenerPort(r, host)
	}
	return headers, cookies
}

// splitCookies splits one Cookie header into its name=value pairs. Clients
// separate pairs with "; "; splitting on ';' alone and trimming gives the
// same pairs and also copes with "a=1;b=2", since a cookie value can never
// contain ';'. Empty pieces are dropped.
func splitCookies(header string) []string {
	var out []string
	for piece := range strings.SplitSeq(header, ";") {
		if piece = strings.TrimSpace(piece); piece != "" {
			out = append(out, piece)
		}
	}
	return out
}

// queryParameters decodes a raw query string into the event's
// queryStringParameters: values of a repeated key are joined with "," in
// the order sent. A malformed escape is passed through undecoded rather
// than failing the request. It returns nil when there are no parameters.
func queryParameters(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	params := map[string]string{}
	for part := range strings.SplitSeq(raw, "&") {
		key, value, _ := strings.Cut(part, "=")
		key, value = unescapeQuery(key), unescapeQuery(value)
		if key == "" {
			continue
		}
		if prev, ok := params[key]; ok {
			value = prev + "," + value
		}
		params[key] = value
	}
	if len(params) == 0 {
		return nil
	}
	return params
}

func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// isTextContentType reports whether a request body of this Content-Type is
// passed to the function as text. Function URLs (and HTTP APIs) treat only
// text/* and these three application types as text; everything else,
// including a missing Content-Type and form posts, arrives base64-encoded.
func isTextContentType(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		// Bad parameters still leave a usable media type before the ';'.
		before, _, _ := strings.Cut(contentType, ";")
		mediaType = strings.ToLower(strings.TrimSpace(before))
	}
	if strings.HasPrefix(mediaType, "text/") {
		return true
	}
	switch mediaType {
	case "application/json", "application/xml", "application/javascript":
		return true
	}
	return false
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// listenerPort is the port the client connected to: the server's local
// address when known, else the port in Host, else the scheme's default.
func listenerPort(r *http.Request, host string) string {
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			return port
		}
	}
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		return port
	}
	if r.TLS != nil {
		return "443"
	}
	return "80"
}
