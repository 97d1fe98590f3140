package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnvFromServerInfo(t *testing.T) {
	t.Chdir(t.TempDir())
	info := serverInfo{Endpoint: "http://127.0.0.1:9001", Region: "eu-west-1",
		AccessKeyID: "AKIDGUST", SecretAccessKey: "se'cr et$", PID: 1}
	if err := writeServerInfo(".gust", info); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "env")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := `export AWS_ACCESS_KEY_ID=AKIDGUST
export AWS_SECRET_ACCESS_KEY='se'\''cr et$'
export AWS_REGION=eu-west-1
export AWS_DEFAULT_REGION=eu-west-1
export AWS_ENDPOINT_URL=http://127.0.0.1:9001
`
	if out != want {
		t.Errorf("env output:\n%s\nwant:\n%s", out, want)
	}
}

// TestEnvEvaluatesInShell checks the quoting round-trips through sh.
func TestEnvEvaluatesInShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	secret := `a'b"c $HOME \n;|&`
	if err := writeServerInfo(dir, serverInfo{Endpoint: "http://h:1", Region: "r", AccessKeyID: "k", SecretAccessKey: secret}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "env", "--data", dir)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	got, err := exec.Command(sh, "-c", out+`printf %s "$AWS_SECRET_ACCESS_KEY"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != secret {
		t.Errorf("secret after eval = %q, want %q", got, secret)
	}
}

func TestEnvFromStoredCredentials(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte(`{"accessKeyId":"AKIDSTORED","secretAccessKey":"stored"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "env", "--data", dir)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"AWS_ACCESS_KEY_ID=AKIDSTORED\n", "AWS_SECRET_ACCESS_KEY=stored\n", "AWS_REGION=us-east-1\n", "AWS_ENDPOINT_URL=" + defaultEndpoint + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("env output lacks %q:\n%s", want, out)
		}
	}
}

func TestEnvWithoutServer(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "", "env", "--data", dir)
	if code != 1 || out != "" {
		t.Errorf("exit %d, stdout %q; want 1 and nothing", code, out)
	}
	if !strings.Contains(errOut, "start `gust server`") {
		t.Errorf("stderr %q does not say how to fix it", errOut)
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"us-east-1", "us-east-1"},
		{"http://127.0.0.1:9001", "http://127.0.0.1:9001"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
