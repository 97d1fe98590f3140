package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// reportCollector receives the JSON reports test functions post to their
// COLLECT_URL, in arrival order.
type reportCollector[T any] struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reports []T
}

func newReportCollector[T any](t *testing.T) *reportCollector[T] {
	c := &reportCollector[T]{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rep T
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.reports = append(c.reports, rep)
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// snapshot returns the reports received so far.
func (c *reportCollector[T]) snapshot() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reports)
}

var (
	builtMu  sync.Mutex
	builtZip = map[string][]byte{}
)

// builtFunction builds internal/server/testdata/<dir> once per test binary
// (see buildGoFunction) and returns its zip.
func builtFunction(t *testing.T, dir string) []byte {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	if zip, ok := builtZip[dir]; ok {
		return zip
	}
	zip := buildGoFunction(t, dir)
	builtZip[dir] = zip
	return zip
}
