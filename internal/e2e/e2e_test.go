package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"gust/internal/cli"
	"gust/internal/config"
	"gust/internal/gusttest"
	"gust/internal/sandbox"
)

// TestMain serves as the linux sandbox's init (the `gust server` the
// scripts start is this binary, re-executed) and as the gust command.
func TestMain(m *testing.M) {
	sandbox.Init()
	testscript.Main(m, map[string]func(){
		"gust": func() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar. Each script gets a free
// loopback port in $PORT, a fixed key pair for the server and the AWS
// CLIs, $AWSV1 / $AWSV2 naming the CLI binaries found (scripts skip
// with [!exec:…] conditions when one is missing), and $SANDBOX for
// `gust server --sandbox`: $GUST_TEST_SANDBOX when set (as for
// gusttest.StartServer), else the server's default.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			port, err := freePort()
			if err != nil {
				return err
			}
			home := env.Getenv("WORK") + "/home"
			if err := os.MkdirAll(home, 0o700); err != nil {
				return err
			}
			for k, v := range map[string]string{
				"PORT":                        port,
				"ENDPOINT":                    "http://127.0.0.1:" + port,
				"HOME":                        home,
				"GUST_ACCESS_KEY_ID":          "AKIDGUSTE2E0000000",
				"GUST_SECRET_ACCESS_KEY":      "e2e-secret-key-0000000000000000000000000",
				"AWS_ACCESS_KEY_ID":           "AKIDGUSTE2E0000000",
				"AWS_SECRET_ACCESS_KEY":       "e2e-secret-key-0000000000000000000000000",
				"AWS_DEFAULT_REGION":          "us-east-1",
				"AWS_CONFIG_FILE":             home + "/aws-config",
				"AWS_SHARED_CREDENTIALS_FILE": home + "/aws-credentials",
				"AWS_PAGER":                   "",
				"AWSV1":                       awsV1(),
				"AWSV2":                       "/usr/bin/aws",
				"PATH":                        os.Getenv("PATH"),
				"SANDBOX":                     sandboxKind(),
			} {
				env.Setenv(k, v)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waithealthy": waitHealthy,
			"procgone":    procGone,
			"envprocs":    envProcs,
			"waitgrep":    waitGrep,
			"waitcmd":     waitCmd,
			"holdconns":   holdConns,
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "awsv1":
				return awsV1() != "", nil
			case "awsv2":
				_, err := os.Stat("/usr/bin/aws")
				return err == nil, nil
			case "boto3":
				// Debian's python3-boto3, which .ci/run installs.
				return exec.Command("/usr/bin/python3", "-c", "import boto3").Run() == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// sandboxKind is the sandbox the scripts' servers use.
func sandboxKind() string {
	if kind := os.Getenv(gusttest.SandboxEnv); kind != "" {
		return kind
	}
	return config.DefaultSandbox()
}

// awsV1 finds AWS CLI v1: the `aws` on PATH when it is not Debian's v2.
func awsV1() string {
	for _, dir := range strings.Split(os.Getenv("PATH"), ":") {
		p := dir + "/aws"
		if p == "/usr/bin/aws" || p == "/bin/aws" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			continue
		}
		out, err := exec.Command(p, "--version").CombinedOutput()
		if err == nil && strings.HasPrefix(string(out), "aws-cli/1.") {
			return p
		}
	}
	return ""
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port, nil
}

// waitHealthy polls $ENDPOINT/healthz until it answers 200 (at most 30 s).
func waitHealthy(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: waithealthy")
	}
	url := ts.Getenv("ENDPOINT") + "/healthz"
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("server at %s not healthy after 30s", url)
}

// envStream reads JSON {"env":STREAM,…} from file: the log stream name a
// function reported, its environment's host-visible identity in both
// sandboxes (its own pid is its pid namespace's inside the linux sandbox).
func envStream(ts *testscript.TestScript, file string) string {
	var v struct{ Env string }
	if err := json.Unmarshal([]byte(ts.ReadFile(file)), &v); err != nil || v.Env == "" {
		ts.Fatalf("%s: no env: %v", file, err)
	}
	return v.Env
}

// envProcs reads an environment's log stream from file (see envStream)
// and checks that at least min processes of it run on the host: the
// runtime and what it spawned, which inherit its environment.
func envProcs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envprocs file min")
	}
	minimum, err := strconv.Atoi(args[1])
	if err != nil {
		ts.Fatalf("envprocs: %v", err)
	}
	if pids := gusttest.EnvProcesses(envStream(ts, args[0])); len(pids) < minimum {
		ts.Fatalf("environment of %s has processes %v, want at least %d", args[0], pids, minimum)
	}
}

// procGone reads an environment's log stream from each file named (see
// envStream) and waits (at most 10 s) until no process of it is left.
func procGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: procgone file...")
	}
	for _, f := range args {
		stream := envStream(ts, f)
		deadline := time.Now().Add(10 * time.Second)
		for {
			pids := gusttest.EnvProcesses(stream)
			if len(pids) == 0 {
				break
			}
			if time.Now().After(deadline) {
				ts.Fatalf("processes %v of environment %s still run", pids, stream)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// waitGrep waits (at most 10 s) until file matches every regexp given; it
// is how a script waits on output a background command keeps writing.
func waitGrep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: waitgrep file regexp...")
	}
	res := make([]*regexp.Regexp, 0, len(args)-1)
	for _, a := range args[1:] {
		res = append(res, regexp.MustCompile("(?m)"+a))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(ts.MkAbs(args[0]))
		missing := ""
		for _, re := range res {
			if !re.Match(b) {
				missing = re.String()
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s: no match for %s after 10s; it holds:\n%s", args[0], missing, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCmd runs a command again and again (at most 30 s) until it exits 0
// with stdout matching the regexp; it is how a script waits for
// asynchronous work that a command reports. The last run's stdout and
// stderr stay for the script's stdout/stderr checks.
func waitCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: waitcmd regexp command [args...]")
	}
	re := regexp.MustCompile("(?m)" + args[0])
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ts.Exec(args[1], args[2:]...)
		out := ts.ReadFile("stdout")
		if err == nil && re.MatchString(out) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s: no match for %s after 30s (last error: %v); stdout:\n%s\nstderr:\n%s",
				strings.Join(args[1:], " "), args[0], err, out, ts.ReadFile("stderr"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
