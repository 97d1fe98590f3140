package archtest

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// layers lists internal packages from the bottom up; a package may import
// only packages of a lower layer. Packages in one layer may not import
// each other. Keep in step with docs/ARCHITECTURE.md.
var layers = [][]string{
	{"lazyre"},
	{"lambda", "iam/policy", "eventpattern", "schedule", "brokers"},
	{"urlevent", "config", "sandbox", "sigv4", "codecache", "natsd", "runtimes", "logs", "tracing",
		"brokers/rabbitmq", "brokers/jsbroker", "brokers/redisbroker", "brokers/pgstream", "bench/echo"},
	{"store", "runtimeapi", "iam"},
	{"envpool"},
	{"invoke"},
	{"asyncq", "usage", "funcurl", "eventbus", "metrics", "esm", "s3events", "pubsub"},
	{"api"},
	{"server"},
	{"bench"},
	{"cli"},
}

// testOnly packages may import anything internal.
var testOnly = map[string]bool{"gusttest": true, "e2e": true, "archtest": true}

func TestImportRules(t *testing.T) {
	level := map[string]int{}
	for i, l := range layers {
		for _, p := range l {
			level[p] = i
		}
	}
	out, err := exec.Command("go", "list", "-json", "gust/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name, ok := internalName(p.ImportPath)
		if !ok || testOnly[name] {
			continue
		}
		seen++
		from, known := level[name]
		if !known {
			t.Errorf("package %s is not in the layer list; add it to layers and docs/ARCHITECTURE.md", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			dep, ok := internalName(imp)
			if !ok {
				continue
			}
			to, known := level[dep]
			if testOnly[dep] || !known || to >= from {
				t.Errorf("%s imports %s: imports must point down the layer list", name, dep)
			}
		}
	}
	if seen < len(level) {
		t.Errorf("checked %d packages, want at least %d: is go list seeing the module?", seen, len(level))
	}
}

// internalName returns "envpool" for "gust/internal/envpool" and for its
// subpackages, except those the layer list names themselves (iam/policy,
// which sits below iam, the broker adapters above brokers, and bench/echo,
// the bench function's handler, far below bench).
func internalName(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "gust/internal/")
	if !ok {
		return "", false
	}
	if strings.Contains(rest, "/") && listed(rest) {
		return rest, true
	}
	name, _, _ := strings.Cut(rest, "/")
	return name, true
}

// listed reports whether the layer list names a package itself.
func listed(name string) bool {
	for _, l := range layers {
		if slices.Contains(l, name) {
			return true
		}
	}
	return false
}
