package store

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"gust/internal/lambda"
)

func noCheck(*lambda.Function) error { return nil }

// bumpLatest gives $LATEST a new revision, as every API change does.
func bumpLatest(t *testing.T, s *Store, name, rev string) {
	t.Helper()
	if _, err := s.UpdateFunction(t.Context(), name, func(fn *lambda.Function) error {
		fn.RevisionID = rev
		fn.Environment = map[string]string{"REV": rev}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestPublishVersionNumbersAndReuse(t *testing.T) {
	e := newEmbeddedEnv(t)
	s := e.reopen()
	_, sha := mustPutCode(t, s, 10)
	mustCreate(t, s, newFunction("f", sha))
	ctx := t.Context()

	v1, created, err := s.PublishVersion(ctx, "f", "", noCheck)
	if err != nil || !created || v1.Version != "1" || v1.RevisionID == "rev-1" {
		t.Fatalf("first publish = %+v created=%v err=%v", v1, created, err)
	}
	again, created, err := s.PublishVersion(ctx, "f", "ignored", noCheck)
	if err != nil || created || again.Version != "1" {
		t.Fatalf("unchanged publish = %+v created=%v err=%v, want version 1 again", again, created, err)
	}
	bumpLatest(t, s, "f", "rev-2")
	v2, created, _ := s.PublishVersion(ctx, "f", "second", noCheck)
	if v2.Version != "2" || !created || v2.Description != "second" || v2.Environment["REV"] != "rev-2" {
		t.Fatalf("second publish = %+v", v2)
	}
	// Frozen: changing $LATEST leaves version 1 alone.
	bumpLatest(t, s, "f", "rev-3")
	if got, _ := s.GetFunction(ctx, "f", "1"); got.Environment["A"] != "1" || got.Environment["REV"] != "" {
		t.Errorf("version 1 changed: %+v", got.Environment)
	}
	// Numbers are never reused, even when the newest version is deleted.
	v3, _, _ := s.PublishVersion(ctx, "f", "", noCheck)
	if err := s.DeleteVersion(ctx, "f", "3"); err != nil {
		t.Fatal(err)
	}
	bumpLatest(t, s, "f", "rev-4")
	v4, _, _ := s.PublishVersion(ctx, "f", "", noCheck)
	if v3.Version != "3" || v4.Version != "4" {
		t.Errorf("versions after delete = %s then %s, want 3 then 4", v3.Version, v4.Version)
	}
	list, err := s.ListVersions(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fn := range list {
		got = append(got, fn.Version)
	}
	if want := []string{"$LATEST", "1", "2", "4"}; !slices.Equal(got, want) {
		t.Errorf("ListVersions = %v, want %v", got, want)
	}
	// A check's error stops the publish and is returned as is.
	stop := errors.New("precondition")
	bumpLatest(t, s, "f", "rev-5")
	if _, _, err := s.PublishVersion(ctx, "f", "", func(*lambda.Function) error { return stop }); err != stop {
		t.Errorf("check error = %v, want it returned as is", err)
	}
	if _, err := s.GetFunction(ctx, "f", "5"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused publish wrote version 5: %v", err)
	}
	// Deleting the function removes versions and resets nothing that
	// could collide: a new function of the name numbers from 1.
	if err := s.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetFunction(ctx, "f", "2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("version 2 survived DeleteFunction: %v", err)
	}
	if _, _, err := s.PublishVersion(ctx, "f", "", noCheck); !errors.Is(err, ErrNotFound) {
		t.Errorf("publish of a deleted function = %v, want ErrNotFound", err)
	}
}

// TestPublishVersionRace publishes one $LATEST from many goroutines: all
// of them must get the same single version.
func TestPublishVersionRace(t *testing.T) {
	e := newEmbeddedEnv(t)
	s := e.reopen()
	_, sha := mustPutCode(t, s, 10)
	mustCreate(t, s, newFunction("f", sha))
	var wg sync.WaitGroup
	versions := make([]string, 8)
	for i := range versions {
		wg.Go(func() {
			v, _, err := s.PublishVersion(t.Context(), "f", "", noCheck)
			if err != nil {
				t.Error(err)
				return
			}
			versions[i] = v.Version
		})
	}
	wg.Wait()
	for _, v := range versions {
		if v != "1" {
			t.Fatalf("concurrent publishes of one $LATEST gave %v, want all 1", versions)
		}
	}
}

func TestAliasStore(t *testing.T) {
	e := newEmbeddedEnv(t)
	s := e.reopen()
	_, sha := mustPutCode(t, s, 10)
	mustCreate(t, s, newFunction("f", sha))
	ctx := t.Context()
	if _, _, err := s.PublishVersion(ctx, "f", "", noCheck); err != nil {
		t.Fatal(err)
	}
	bumpLatest(t, s, "f", "rev-2")
	if _, _, err := s.PublishVersion(ctx, "f", "", noCheck); err != nil {
		t.Fatal(err)
	}
	live := &lambda.Alias{Function: "f", Name: "live", FunctionVersion: "1", Weights: map[string]float64{"2": 0.5}, RevisionID: "a1"}
	if err := s.CreateAlias(ctx, live); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAlias(ctx, live); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate alias = %v, want ErrExists", err)
	}
	if err := s.CreateAlias(ctx, &lambda.Alias{Function: "nope", Name: "x", FunctionVersion: "1"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("alias of a missing function = %v, want ErrNotFound", err)
	}
	// A version an alias routes to, as primary or additional, is kept.
	for _, v := range []string{"1", "2"} {
		var inUse *VersionInUseError
		if err := s.DeleteVersion(ctx, "f", v); !errors.As(err, &inUse) || inUse.Aliases[0] != "live" {
			t.Errorf("DeleteVersion(%s) = %v, want in use by live", v, err)
		}
	}
	up, err := s.UpdateAlias(ctx, "f", "live", func(a *lambda.Alias) error { a.Weights = nil; a.FunctionVersion = "2"; return nil })
	if err != nil || up.FunctionVersion != "2" {
		t.Fatalf("UpdateAlias = %+v, %v", up, err)
	}
	if err := s.DeleteVersion(ctx, "f", "1"); err != nil {
		t.Errorf("DeleteVersion(1) once unused: %v", err)
	}
	list, err := s.ListAliases(ctx, "f")
	if err != nil || len(list) != 1 || list[0].Name != "live" {
		t.Errorf("ListAliases = %v, %v", list, err)
	}
	if err := s.DeleteAlias(ctx, "f", "live"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAlias(ctx, "f", "live"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetAlias after delete = %v", err)
	}
	// Aliases die with their function.
	if err := s.CreateAlias(ctx, &lambda.Alias{Function: "f", Name: "again", FunctionVersion: "$LATEST"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, newFunction("f", sha))
	if _, err := s.GetAlias(ctx, "f", "again"); !errors.Is(err, ErrNotFound) {
		t.Errorf("alias survived its function's deletion: %v", err)
	}
}
