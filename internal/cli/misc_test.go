package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShortStream(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2025/01/02/[$LATEST]0123456789abcdef", "01234567"},
		{"2025/01/02/[3]abc", "abc"},
		{"plain-stream-name", "plain-st"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := shortStream(tt.in); got != tt.want {
			t.Errorf("shortStream(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReadPayload(t *testing.T) {
	file := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(file, []byte(`{"from":"file"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg, stdin, want string
	}{
		{"", "ignored", ""},
		{`{"a":1}`, "", `{"a":1}`},
		{"@" + file, "", `{"from":"file"}`},
		{"-", `{"from":"stdin"}`, `{"from":"stdin"}`},
	}
	for _, tt := range tests {
		got, err := readPayload(tt.arg, strings.NewReader(tt.stdin))
		if err != nil || string(got) != tt.want {
			t.Errorf("readPayload(%q) = %q, %v; want %q", tt.arg, got, err, tt.want)
		}
	}
	if _, err := readPayload("@/does/not/exist", strings.NewReader("")); err == nil {
		t.Error("readPayload accepted a missing file")
	}
}

func TestBanner(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	info := serverInfo{Endpoint: "http://127.0.0.1:9001", Region: "us-east-1", AccessKeyID: "AKGUKEY", SecretAccessKey: "sekrit"}
	tests := []struct {
		name    string
		dataDir string
		fromEnv bool
		want    []string
	}{
		{"default data dir, generated keys", filepath.Join(wd, ".gust"), false, []string{
			"Gust is running.\n",
			"  endpoint:    http://127.0.0.1:9001\n",
			"  region:      us-east-1\n",
			"  credentials: AKGUKEY / sekrit  (generated, kept in " + filepath.Join(".gust", "credentials") + ")\n",
			"Try it:\n  eval \"$(gust env)\"\n  aws lambda list-functions --endpoint-url http://127.0.0.1:9001\n",
		}},
		{"other data dir, keys from env", "/srv/gust data", true, []string{
			"(from $GUST_ACCESS_KEY_ID)",
			`eval "$(gust env --data '/srv/gust data')"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			a := newApp(&out, io.Discard, strings.NewReader(""))
			a.printBanner(info, tt.fromEnv, tt.dataDir)
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("banner lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
