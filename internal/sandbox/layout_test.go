package sandbox

import "testing"

func TestPathMapRewrite(t *testing.T) {
	m := newPathMap("/data/code/abc", "/data/runtime")
	for _, tc := range []struct{ in, want string }{
		{"/data/code/abc", "/var/task"},
		{"/data/code/abc/bootstrap", "/var/task/bootstrap"},
		{"/data/runtime/node/bootstrap.mjs", "/var/runtime/node/bootstrap.mjs"},
		{"LAMBDA_TASK_ROOT=/data/code/abc", "LAMBDA_TASK_ROOT=/var/task"},
		{"LD_LIBRARY_PATH=/lib64:/data/runtime:/data/runtime/lib:/data/code/abc:/data/code/abc/lib:/opt/lib",
			"LD_LIBRARY_PATH=/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"},
		{"/data/code/abcdef", "/data/code/abcdef"},                  // another directory
		{"X=/other/data/code/abc", "X=/other/data/code/abc"},        // not at a path start
		{"/data/code/abc/data/code/abc", "/var/task/data/code/abc"}, // only at the start
		{"/usr/bin/python3", "/usr/bin/python3"},
	} {
		if got := m.rewrite(tc.in); got != tc.want {
			t.Errorf("rewrite(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// A runtime dir inside the code dir maps to the more specific place.
	m = newPathMap("/data", "/data/runtime")
	if got := m.rewrite("/data/runtime/x"); got != "/var/runtime/x" {
		t.Errorf("nested: %q", got)
	}
}
