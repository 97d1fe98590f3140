package lazyre

import "testing"

func TestRegexp(t *testing.T) {
	r := New(`^([a-z]+)-([0-9]{1,3})$`)
	if r.String() != `^([a-z]+)-([0-9]{1,3})$` {
		t.Errorf("String() = %q", r.String())
	}
	if !r.MatchString("abc-12") || r.MatchString("abc-1234") {
		t.Error("MatchString does not follow the pattern")
	}
	if m := r.FindStringSubmatch("abc-12"); len(m) != 3 || m[1] != "abc" || m[2] != "12" {
		t.Errorf("FindStringSubmatch = %q", m)
	}
	if m := r.FindSubmatch([]byte("x-1")); len(m) != 3 || string(m[2]) != "1" {
		t.Errorf("FindSubmatch = %q", m)
	}
	if r.Regexp() != r.Regexp() {
		t.Error("the expression is compiled more than once")
	}
}

func TestNewPanicsInTestsOnBadPattern(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New accepted an invalid pattern in a test binary")
		}
	}()
	New(`(`)
}
