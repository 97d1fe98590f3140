package runtimeapi

import (
	"net/http"
	"strings"
)

// The Runtime API as served to the runtime (docs/lambda-compat.md §4.1):
//
//	GET  /2018-06-01/runtime/invocation/next             next.go
//	POST /2018-06-01/runtime/invocation/{id}/response    response.go
//	POST /2018-06-01/runtime/invocation/{id}/error       invocation_error.go
//	POST /2018-06-01/runtime/init/error                  init_error.go
//	GET  /2018-06-01/runtime/restore/next                404: no SnapStart
//	POST /2018-06-01/runtime/restore/error               404: no SnapStart
//	/2020-01-01/extension/…, /2022-07-01/telemetry,
//	/2020-08-15/logs                                     404: extensions disabled
//
// The restore routes answer 404, not 403: RIE registers them only when
// SnapStart is on, so without it they do not exist. Any other path is 404;
// a known path with the wrong method is 405 with Allow. Paths are matched
// exactly, without a router, so routing allocates nothing.
const (
	apiPrefix      = "/2018-06-01/runtime/"
	pathNext       = "invocation/next"
	pathInitError  = "init/error"
	invocationPath = "invocation/"
	actionResponse = "response"
	actionError    = "error"
)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		// Close has begun and is closing this connection.
		panic(http.ErrAbortHandler)
	}
	defer s.active.Done()

	rest, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch rest {
	case pathNext:
		if allow(w, r, http.MethodGet) {
			s.handleNext(w, r)
		}
		return
	case pathInitError:
		if allow(w, r, http.MethodPost) {
			s.handleInitError(w, r)
		}
		return
	}
	if id, action, ok := cutInvocation(rest); ok {
		switch action {
		case actionResponse:
			if allow(w, r, http.MethodPost) {
				s.handleResponse(w, r, id)
			}
			return
		case actionError:
			if allow(w, r, http.MethodPost) {
				s.handleInvocationError(w, r, id)
			}
			return
		}
	}
	http.NotFound(w, r)
}

// cutInvocation splits "invocation/{id}/{action}"; id may be empty (the
// handlers answer 400 InvalidRequestID) but holds no slash.
func cutInvocation(rest string) (id, action string, ok bool) {
	rest, ok = strings.CutPrefix(rest, invocationPath)
	if !ok {
		return "", "", false
	}
	id, action, ok = strings.Cut(rest, "/")
	if !ok || strings.IndexByte(action, '/') >= 0 {
		return "", "", false
	}
	return id, action, true
}

// allow answers 405 unless r uses method.
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	w.WriteHeader(http.StatusMethodNotAllowed)
	return false
}
