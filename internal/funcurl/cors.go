package funcurl

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"gust/internal/lambda"
)

// Cross-origin resource sharing from a URL's Cors config. Lambda answers
// preflights itself and adds the config's headers to the function's
// responses, replacing any the function set. A request from an origin the
// config does not allow gets no CORS headers at all, and the browser
// blocks it.

// isPreflight reports whether r is a CORS preflight the config answers.
func isPreflight(r *http.Request, c *lambda.Cors) bool {
	return c != nil && r.Method == http.MethodOptions &&
		r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// preflight answers a CORS preflight: 200 with the allowed origin,
// methods and headers when the origin and the method are allowed, 200
// without them otherwise.
func preflight(w http.ResponseWriter, r *http.Request, c *lambda.Cors) {
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	if allowedOrigin(c, origin) && allowedMethod(c, method) {
		h.Set("Access-Control-Allow-Origin", allowOriginValue(c, origin))
		if slices.Contains(c.AllowMethods, "*") {
			h.Set("Access-Control-Allow-Methods", method)
		} else {
			h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ", "))
		}
		switch requested := r.Header.Get("Access-Control-Request-Headers"); {
		case slices.Contains(c.AllowHeaders, "*") && requested != "":
			h.Set("Access-Control-Allow-Headers", requested)
		case len(c.AllowHeaders) > 0 && !slices.Contains(c.AllowHeaders, "*"):
			h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ", "))
		}
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if c.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
		}
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// allowedOrigin reports whether the config lets origin call the URL.
func allowedOrigin(c *lambda.Cors, origin string) bool {
	if c == nil || origin == "" {
		return false
	}
	for _, o := range c.AllowOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// allowedMethod reports whether the config allows method, as a
// preflight's Access-Control-Request-Method names it.
func allowedMethod(c *lambda.Cors, method string) bool {
	for _, m := range c.AllowMethods {
		if m == "*" || strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}

// allowOriginValue is "*" for a wildcard config without credentials, else
// the caller's origin: browsers refuse "*" on credentialed requests.
func allowOriginValue(c *lambda.Cors, origin string) string {
	if slices.Contains(c.AllowOrigins, "*") && !c.AllowCredentials {
		return "*"
	}
	return origin
}

// corsWriter adds the config's CORS headers to a function's response just
// before its status line goes out, so they replace any the function set.
type corsWriter struct {
	http.ResponseWriter
	cors        *lambda.Cors
	origin      string
	wroteHeader bool
}

func (cw *corsWriter) WriteHeader(status int) {
	if !cw.wroteHeader {
		cw.wroteHeader = true
		if allowedOrigin(cw.cors, cw.origin) {
			h := cw.Header()
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Origin", allowOriginValue(cw.cors, cw.origin))
			if len(cw.cors.ExposeHeaders) > 0 {
				h.Set("Access-Control-Expose-Headers", strings.Join(cw.cors.ExposeHeaders, ", "))
			} else {
				h.Del("Access-Control-Expose-Headers")
			}
			if cw.cors.AllowCredentials {
				h.Set("Access-Control-Allow-Credentials", "true")
			} else {
				h.Del("Access-Control-Allow-Credentials")
			}
		}
	}
	cw.ResponseWriter.WriteHeader(status)
}

func (cw *corsWriter) Write(b []byte) (int, error) {
	if !cw.wroteHeader {
		cw.WriteHeader(http.StatusOK)
	}
	return cw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (cw *corsWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }
