package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"gust/internal/bench"
	"gust/internal/gusttest"
)

func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs every measurement")
	}
	srv := gusttest.StartServer(t)
	root := gusttest.RepoRoot(t)
	connectTo(t, srv)
	// This test binary does not serve the bench's function itself: the
	// standalone echo bootstrap does.
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./internal/bench/echofn")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build echofn: %v\n%s", err, out)
	}

	args := []string{"bench", "--json", "--endpoint", srv.Endpoint, "--runtimes", "go", "--concurrency", "1",
		"--duration", "200ms", "--cold-starts", "1", "--scale-out", "2", "--async-events", "5",
		"--go-bootstrap", bin, "--out", "bench.json"}
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("gust bench: exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decode the report: %v\n%s", err, stdout.String())
	}
	if rep.Target.Endpoint != srv.Endpoint || rep.Target.InProcess {
		t.Errorf("target = %+v, want %s", rep.Target, srv.Endpoint)
	}
	if len(rep.Floor) != 1 || len(rep.Warm) != 1 || rep.Warm[0].Function != "go" || rep.Warm[0].Invokes < 1 {
		t.Errorf("warm rows: floor %+v, warm %+v; want one each, go with invokes", rep.Floor, rep.Warm)
	}
	if len(rep.Cold) != 1 || rep.Cold[0].Starts != 1 || rep.Cold[0].InitP50Ms <= 0 {
		t.Errorf("cold = %+v, want one go row with 1 start and an init duration", rep.Cold)
	}
	if rep.ScaleOut == nil || rep.ScaleOut.Environments != 2 {
		t.Errorf("scale-out = %+v, want 2 environments", rep.ScaleOut)
	}
	if rep.Async == nil || rep.Async.Delivered != 5 {
		t.Errorf("async = %+v, want 5 delivered", rep.Async)
	}
	if rep.GustVersion != Version || !slices.Contains(rep.Command, "--scale-out=2") || rep.Command[0] != "gust" {
		t.Errorf("version %q, command %q: want %q and the flags given", rep.GustVersion, rep.Command, Version)
	}
	file, err := os.ReadFile("bench.json") // connectTo made a temp dir the working directory
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, stdout.Bytes()) {
		t.Errorf("--out file differs from the printed report:\n%s", file)
	}
}
