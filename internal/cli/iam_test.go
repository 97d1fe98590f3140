package cli

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"gust/internal/gusttest"
	"gust/internal/iam"
)

const iamTestPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}`

// exportedKey parses the export lines `gust iam user create` and `gust iam
// key rotate` print.
func exportedKey(t *testing.T, out string) iam.AccessKey {
	t.Helper()
	m := regexp.MustCompile(`^export AWS_ACCESS_KEY_ID=(AKIA[A-Z2-7]{16})\nexport AWS_SECRET_ACCESS_KEY=([A-Za-z0-9+/]{40})\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output is not two export lines of a key pair:\n%s", out)
	}
	return iam.AccessKey{ID: m[1], Secret: m[2]}
}

// runAs runs gust signed with key instead of the admin pair.
func runAs(t *testing.T, key iam.AccessKey, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	admin, adminSecret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	t.Setenv("AWS_ACCESS_KEY_ID", key.ID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", key.Secret)
	defer func() {
		t.Setenv("AWS_ACCESS_KEY_ID", admin)
		t.Setenv("AWS_SECRET_ACCESS_KEY", adminSecret)
	}()
	return runCLI(t, "", args...)
}

func TestIAMCommands(t *testing.T) {
	srv := gusttest.StartServer(t)
	connectTo(t, srv)
	if err := os.WriteFile("policy.json", []byte(iamTestPolicy), 0o644); err != nil {
		t.Fatal(err)
	}

	out, errOut := mustRun(t, "iam", "user", "create", "alice")
	key := exportedKey(t, out)
	if !strings.Contains(errOut, "arn:aws:iam::000000000000:user/alice") || !strings.Contains(errOut, "shown only now") {
		t.Errorf("create stderr = %q, want the ARN and a warning that the secret is shown once", errOut)
	}
	mustRun(t, "iam", "user", "policy", "alice", "policy.json") // allows lambda:ListFunctions
	if code, _, errOut := runAs(t, key, "ls"); code != 0 {
		t.Fatalf("gust ls as the new user: exit %d: %s", code, errOut)
	}
	// A user is no administrator.
	if code, _, errOut := runAs(t, key, "iam", "user", "ls"); code != 1 ||
		!strings.Contains(errOut, "AccessDeniedException: User: arn:aws:iam::000000000000:user/alice is not authorized to perform: iam:ListUsers") {
		t.Errorf("iam user ls as a user: exit %d, stderr %q; want 1 and AccessDeniedException", code, errOut)
	}

	out, _ = mustRun(t, "iam", "user", "show", "alice")
	for _, want := range []string{"user:", "alice", "access key:", key.ID, "policy:\n{", `"Action": "lambda:ListFunctions"`} {
		if !strings.Contains(out, want) {
			t.Errorf("user show lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := runCLI(t, "{not json", "iam", "user", "policy", "alice", "-"); code != 1 || !strings.Contains(errOut, "InvalidParameterValueException") {
		t.Errorf("policy from stdin with bad JSON: exit %d, stderr %q; want 1 and InvalidParameterValueException", code, errOut)
	}

	// Rotation: the printed pair works, the old one is gone.
	out, _ = mustRun(t, "iam", "key", "rotate", "alice")
	newKey := exportedKey(t, out)
	if code, _, errOut := runAs(t, key, "ls"); code != 1 || !strings.Contains(errOut, "UnrecognizedClientException") {
		t.Errorf("gust ls with the rotated-out key: exit %d, stderr %q; want UnrecognizedClientException", code, errOut)
	}
	if code, _, errOut := runAs(t, newKey, "ls"); code != 0 {
		t.Errorf("gust ls with the new key: exit %d: %s", code, errOut)
	}

	out, _ = mustRun(t, "iam", "user", "ls", "--json")
	var users struct{ Users []iam.User }
	if err := json.Unmarshal([]byte(out), &users); err != nil {
		t.Fatalf("user ls --json: %v\n%s", err, out)
	}
	if len(users.Users) != 1 || users.Users[0].Name != "alice" || users.Users[0].AccessKeys[0] != newKey.ID || users.Users[0].Policy != iamTestPolicy {
		t.Errorf("user ls --json = %+v", users.Users)
	}
	out, _ = mustRun(t, "iam", "user", "ls")
	if !regexp.MustCompile(`(?m)^alice +` + newKey.ID + ` +yes +\S+ +arn:aws:iam::000000000000:user/alice$`).MatchString(out) {
		t.Errorf("user ls table:\n%s", out)
	}

	// Roles.
	out, _ = mustRun(t, "iam", "role", "create", "worker", "--policy", "policy.json")
	if out != "arn:aws:iam::000000000000:role/worker\n" {
		t.Errorf("role create printed %q, want the ARN", out)
	}
	out, _ = mustRun(t, "iam", "role", "ls")
	for _, want := range []string{`(?m)^lambda-role +yes `, `(?m)^worker +yes .* arn:aws:iam::000000000000:role/worker$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("role ls lacks %s:\n%s", want, out)
		}
	}
	mustRun(t, "iam", "role", "policy", "worker", "--remove")
	out, _ = mustRun(t, "iam", "role", "show", "worker")
	if !regexp.MustCompile(`(?m)^policy: +-$`).MatchString(out) {
		t.Errorf("role show after --remove:\n%s", out)
	}
	mustRun(t, "iam", "role", "rm", "worker")
	if code, _, errOut := runCLI(t, "", "iam", "role", "show", "worker"); code != 1 || !strings.Contains(errOut, "ResourceNotFoundException: The role with name worker cannot be found.") {
		t.Errorf("role show after rm: exit %d, stderr %q", code, errOut)
	}

	mustRun(t, "iam", "user", "rm", "alice")
	if code, _, errOut := runAs(t, newKey, "ls"); code != 1 || !strings.Contains(errOut, "UnrecognizedClientException") {
		t.Errorf("gust ls as a deleted user: exit %d, stderr %q", code, errOut)
	}
	// The name is free again; --json prints the server's answer.
	out, _ = mustRun(t, "iam", "user", "create", "alice", "--json")
	var created struct {
		User      iam.User
		AccessKey iam.AccessKey
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.User.Name != "alice" || created.AccessKey.Secret == "" {
		t.Errorf("user create --json = %+v, %v\n%s", created, err, out)
	}
}

func TestIAMUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"iam"},
		{"iam", "user"},
		{"iam", "user", "create"},
		{"iam", "user", "policy", "alice"},
		{"iam", "user", "policy", "alice", "a.json", "--remove"},
		{"iam", "key", "rotate"},
		{"iam", "role", "create", "a", "b"},
	} {
		if code, _, errOut := runCLI(t, "", args...); code != 2 || !strings.Contains(errOut, "--help") {
			t.Errorf("gust %s: exit %d, stderr %q; want a usage error", strings.Join(args, " "), code, errOut)
		}
	}
	code, out, _ := runCLI(t, "", "iam", "--help")
	for _, want := range []string{"user", "key", "role", "lambda-role", "Examples:"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("iam --help (exit %d) lacks %q:\n%s", code, want, out)
		}
	}
	code, out, _ = runCLI(t, "", "iam", "user", "create", "--help")
	if code != 0 || !strings.Contains(out, `eval "$(gust iam user create`) || !strings.Contains(out, "--json") {
		t.Errorf("iam user create --help does not explain its output:\n%s", out)
	}
}
