package store

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/lambda"
)

// functionURLCases run against every backend, like the conformance suite.
var functionURLCases = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"PutGet", testURLPutGet},
	{"PutExists", testURLPutExists},
	{"NotFound", testURLNotFound},
	{"Update", testURLUpdate},
	{"Delete", testURLDelete},
	{"List", testURLList},
	{"DeleteFunction", testURLDeleteFunction},
	{"DeleteAlias", testURLDeleteAlias},
	{"Persistence", testURLPersistence},
}

func TestFunctionURL(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range functionURLCases {
				t.Run(c.name, func(t *testing.T) {
					c.run(t, b.newEnv(t))
				})
			}
		})
	}
}

// newURL is a config of name:qualifier with every field set.
func newURL(name, qualifier string) *lambda.FunctionURL {
	at := time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	return &lambda.FunctionURL{
		Function:  name,
		Qualifier: qualifier,
		URLID:     lambda.NewURLID(),
		AuthType:  lambda.URLAuthNone,
		Cors: &lambda.Cors{AllowCredentials: true, AllowOrigins: []string{"https://a.example"}, AllowMethods: []string{"GET"},
			AllowHeaders: []string{"x-a"}, ExposeHeaders: []string{"x-b"}, MaxAge: 60},
		InvokeMode:       lambda.InvokeModeBuffered,
		CreationTime:     at,
		LastModifiedTime: at,
	}
}

func mustPutURL(t *testing.T, s *Store, u *lambda.FunctionURL) {
	t.Helper()
	if err := s.PutFunctionURL(t.Context(), u); err != nil {
		t.Fatalf("PutFunctionURL(%s:%s): %v", u.Function, u.Qualifier, err)
	}
}

func mustCreateAlias(t *testing.T, s *Store, name, alias string) {
	t.Helper()
	if err := s.CreateAlias(t.Context(), &lambda.Alias{Function: name, Name: alias, FunctionVersion: lambda.LatestVersion, RevisionID: "r"}); err != nil {
		t.Fatalf("CreateAlias(%s:%s): %v", name, alias, err)
	}
}

// wantResolves checks that id resolves to want.
func wantResolves(t *testing.T, s *Store, want *lambda.FunctionURL) {
	t.Helper()
	got, err := s.FunctionURLByID(t.Context(), want.URLID)
	if err != nil {
		t.Fatalf("FunctionURLByID(%s): %v", want.URLID, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FunctionURLByID(%s) mismatch (-want +got):\n%s", want.URLID, diff)
	}
}

func wantGone(t *testing.T, s *Store, id string) {
	t.Helper()
	if _, err := s.FunctionURLByID(t.Context(), id); !errors.Is(err, ErrNotFound) {
		t.Errorf("FunctionURLByID(%s) = %v, want ErrNotFound", id, err)
	}
}

// wantIndexPurged checks that the url.<id> key itself is gone, not merely
// refused.
func wantIndexPurged(t *testing.T, s *Store, id string) {
	t.Helper()
	if _, err := s.kv.Get(t.Context(), urlIndexKey(id)); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("index of %s: Get = %v, want ErrKeyNotFound", id, err)
	}
}

func testURLPutGet(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	mustCreateAlias(t, e.s, "f", "live")
	for _, q := range []string{"", "live"} {
		want := newURL("f", q)
		mustPutURL(t, e.s, want)
		got, err := e.s.GetFunctionURL(t.Context(), "f", q)
		if err != nil {
			t.Fatalf("GetFunctionURL(f, %q): %v", q, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetFunctionURL(f, %q) mismatch (-want +got):\n%s", q, diff)
		}
		wantResolves(t, e.s, want)
	}
}

func testURLPutExists(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	first := newURL("f", "")
	mustPutURL(t, e.s, first)
	second := newURL("f", "")
	if err := e.s.PutFunctionURL(t.Context(), second); !errors.Is(err, ErrExists) {
		t.Fatalf("second PutFunctionURL = %v, want ErrExists", err)
	}
	wantResolves(t, e.s, first)
	wantGone(t, e.s, second.URLID)
	wantIndexPurged(t, e.s, second.URLID)

	// An id already issued is never handed to another config.
	dup := newURL("f", "")
	dup.URLID = first.URLID
	if err := e.s.PutFunctionURL(t.Context(), dup); !errors.Is(err, ErrConflict) {
		t.Errorf("PutFunctionURL with a taken id = %v, want ErrConflict", err)
	}
	wantResolves(t, e.s, first)
}

func testURLNotFound(t *testing.T, e *env) {
	if err := e.s.PutFunctionURL(t.Context(), newURL("nope", "")); !errors.Is(err, ErrNotFound) {
		t.Errorf("PutFunctionURL(nope) = %v, want ErrNotFound", err)
	}
	mustCreate(t, e.s, newFunction("f", ""))
	for _, q := range []string{"", "live", "1", lambda.LatestVersion} {
		if _, err := e.s.GetFunctionURL(t.Context(), "f", q); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetFunctionURL(f, %q) = %v, want ErrNotFound", q, err)
		}
	}
	bad := newURL("f", "1") // versions cannot have URLs
	if err := e.s.PutFunctionURL(t.Context(), bad); err == nil {
		t.Error("PutFunctionURL with a version qualifier succeeded")
	}
	for _, id := range []string{"", "x", lambda.NewURLID(), "../../etc"} {
		wantGone(t, e.s, id)
	}
}

func testURLUpdate(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	u := newURL("f", "")
	mustPutURL(t, e.s, u)
	later := u.CreationTime.Add(time.Hour)
	got, err := e.s.UpdateFunctionURL(t.Context(), "f", "", func(c *lambda.FunctionURL) error {
		c.AuthType = lambda.URLAuthIAM
		c.Cors = nil
		c.LastModifiedTime = later
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateFunctionURL: %v", err)
	}
	want := *u
	want.AuthType, want.Cors, want.LastModifiedTime = lambda.URLAuthIAM, nil, later
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("UpdateFunctionURL result mismatch (-want +got):\n%s", diff)
	}
	wantResolves(t, e.s, &want)

	sentinel := errors.New("no")
	if _, err := e.s.UpdateFunctionURL(t.Context(), "f", "", func(*lambda.FunctionURL) error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("mutate error: got %v, want it passed through", err)
	}
	if _, err := e.s.UpdateFunctionURL(t.Context(), "f", "", func(c *lambda.FunctionURL) error { c.URLID = lambda.NewURLID(); return nil }); err == nil {
		t.Error("UpdateFunctionURL let mutate change the URL id")
	}
	if _, err := e.s.UpdateFunctionURL(t.Context(), "f", "", func(c *lambda.FunctionURL) error { c.AuthType = "KEY"; return nil }); err == nil {
		t.Error("UpdateFunctionURL stored an invalid auth type")
	}
	if _, err := e.s.UpdateFunctionURL(t.Context(), "f", "live", func(*lambda.FunctionURL) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateFunctionURL without a config = %v, want ErrNotFound", err)
	}
	wantResolves(t, e.s, &want)
}

func testURLDelete(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	u := newURL("f", "")
	mustPutURL(t, e.s, u)
	if err := e.s.DeleteFunctionURL(t.Context(), "f", ""); err != nil {
		t.Fatalf("DeleteFunctionURL: %v", err)
	}
	wantGone(t, e.s, u.URLID)
	wantIndexPurged(t, e.s, u.URLID)
	if err := e.s.DeleteFunctionURL(t.Context(), "f", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteFunctionURL = %v, want ErrNotFound", err)
	}
	// A new config gets a new id; the old one stays dead.
	again := newURL("f", "")
	mustPutURL(t, e.s, again)
	wantResolves(t, e.s, again)
	wantGone(t, e.s, u.URLID)
}

func testURLList(t *testing.T, e *env) {
	got, err := e.s.ListFunctionURLs(t.Context(), "nope")
	if err != nil || len(got) != 0 {
		t.Fatalf("ListFunctionURLs(nope) = %v, %v; want empty", got, err)
	}
	mustCreate(t, e.s, newFunction("f", ""))
	mustCreate(t, e.s, newFunction("g", ""))
	var want []*lambda.FunctionURL
	for _, q := range []string{"", "a", "b"} { // the function's own first
		if q != "" {
			mustCreateAlias(t, e.s, "f", q)
		}
		u := newURL("f", q)
		want = append(want, u)
	}
	for _, i := range []int{2, 0, 1} {
		mustPutURL(t, e.s, want[i])
	}
	mustPutURL(t, e.s, newURL("g", "")) // another function's is not listed
	got, err = e.s.ListFunctionURLs(t.Context(), "f")
	if err != nil {
		t.Fatalf("ListFunctionURLs(f): %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListFunctionURLs(f) mismatch (-want +got):\n%s", diff)
	}
}

func testURLDeleteFunction(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	mustCreateAlias(t, e.s, "f", "live")
	own, alias := newURL("f", ""), newURL("f", "live")
	mustPutURL(t, e.s, own)
	mustPutURL(t, e.s, alias)
	if err := e.s.DeleteFunction(t.Context(), "f"); err != nil {
		t.Fatalf("DeleteFunction: %v", err)
	}
	for _, u := range []*lambda.FunctionURL{own, alias} {
		wantGone(t, e.s, u.URLID)
		wantIndexPurged(t, e.s, u.URLID) // the lookup cleaned up
	}
	// A function created again under the same name does not inherit them.
	mustCreate(t, e.s, newFunction("f", ""))
	wantGone(t, e.s, own.URLID)
	if got, err := e.s.ListFunctionURLs(t.Context(), "f"); err != nil || len(got) != 0 {
		t.Errorf("ListFunctionURLs after re-create = %v, %v; want empty", got, err)
	}
}

func testURLDeleteAlias(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	mustCreateAlias(t, e.s, "f", "live")
	own, alias := newURL("f", ""), newURL("f", "live")
	mustPutURL(t, e.s, own)
	mustPutURL(t, e.s, alias)
	if err := e.s.DeleteAlias(t.Context(), "f", "live"); err != nil {
		t.Fatalf("DeleteAlias: %v", err)
	}
	wantGone(t, e.s, alias.URLID)
	wantResolves(t, e.s, own)
	// An alias created again under the name does not revive the old URL.
	mustCreateAlias(t, e.s, "f", "live")
	wantGone(t, e.s, alias.URLID)
}

func testURLPersistence(t *testing.T, e *env) {
	mustCreate(t, e.s, newFunction("f", ""))
	u := newURL("f", "")
	mustPutURL(t, e.s, u)
	s := e.reopen()
	wantResolves(t, s, u)
}
