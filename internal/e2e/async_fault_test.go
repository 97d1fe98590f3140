package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/gusttest"
)

// Fault-test sizes: by default 5 kill/restart rounds of 2,000 events each.
// GUST_SOAK_ROUNDS raises the number of rounds for a longer soak;
// GUST_SOAK_EVENTS sets the events acknowledged per round; GUST_SOAK_SEED
// replays a run's kill points.
const (
	faultRounds      = 5
	faultEvents      = 2000 // acknowledged events per round
	faultSenders     = 8
	faultAckWait     = "2s"
	faultDrainWindow = 3 * time.Minute
)

const faultKeyID, faultSecret = "AKIDGUSTFAULT000000", "fault-secret-key-00000000000000000000000"

// faultHandler posts the request id it was given to the test's collector.
const faultHandler = `import json, os, urllib.request

URL = os.environ["COLLECTOR_URL"]

def handler(event, context):
    body = json.dumps({"requestId": context.aws_request_id}).encode()
    req = urllib.request.Request(URL, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        r.read()
    return {"ok": True}
`

// TestAsyncKillRestart is the async fault test: in each round, senders
// invoke a function asynchronously, the server is killed with SIGKILL after
// a random number of 202s (seeded), restarted on the same data dir, and the
// rest of the round is sent. At the end every event that got a 202 must
// have reached the function at least once.
func TestAsyncKillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: builds gust and kills a real server five times (~20 s); skipped with -short")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("fault test needs /usr/bin/python3")
	}
	rounds := faultEnvInt(t, "GUST_SOAK_ROUNDS", faultRounds)
	perRound := faultEnvInt(t, "GUST_SOAK_EVENTS", faultEvents)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("GUST_SOAK_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("GUST_SOAK_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (GUST_SOAK_SEED=%d replays the kill points), %d rounds of %d events", seed, seed, rounds, perRound)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	col := newFaultCollector()
	colSrv := httptest.NewServer(col)
	t.Cleanup(colSrv.Close)
	// A token unique to this run marks its function processes in /proc.
	token := fmt.Sprintf("gust-fault-%d-%d", os.Getpid(), seed)
	collectorURL := colSrv.URL + "/" + token

	srv := newFaultServer(t)
	srv.start(t)
	c := srv.lambda()
	ctx := context.Background()
	if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("collect"),
		Runtime:      types.RuntimePython312,
		Handler:      aws.String("lambda_function.handler"),
		Role:         aws.String("arn:aws:iam::000000000000:role/lambda-role"),
		Timeout:      aws.Int32(15),
		Code:         &types.FunctionCode{ZipFile: gusttest.Zip(t, map[string]string{"lambda_function.py": faultHandler})},
		Environment:  &types.Environment{Variables: map[string]string{"COLLECTOR_URL": collectorURL}},
	}); err != nil {
		t.Fatalf("create function: %v", err)
	}

	acks := &ackedEvents{ids: make(map[string]ackedEvent)}
	var seq atomic.Int64 // payload sequence number, for diagnosis
	start := time.Now()
	for r := 1; r <= rounds; r++ {
		killAt := perRound/10 + rng.IntN(perRound*8/10+1)
		remaining := &atomic.Int64{}
		remaining.Store(int64(perRound))
		var acked atomic.Int64
		var killOnce sync.Once
		killed := make(chan struct{})
		kill := func() {
			killOnce.Do(func() {
				t.Logf("round %d: SIGKILL after %d acknowledged events (%s into the run)", r, acked.Load(), time.Since(start).Round(time.Millisecond))
				srv.kill(t)
				close(killed)
			})
		}
		onAck := func() {
			if acked.Add(1) == int64(killAt) {
				kill()
			}
		}
		failed := sendAsync(c, r, faultSenders, remaining, &seq, acks, onAck, killed)
		kill() // in case every event was sent before the kill point
		srv.wait(t)
		waitNoFaultProcess(t, token, 10*time.Second)
		// The killed server's functions are gone: what arrives from now on
		// ran under the next start.
		col.nextServer()
		srv.start(t)
		failed2 := sendAsync(c, r, faultSenders, remaining, &seq, acks, nil, nil)
		if failed2.n > 0 {
			t.Fatalf("round %d: %d invokes failed with the server up (first: %v)", r, failed2.n, failed2.first)
		}
		t.Logf("round %d: %d acknowledged (%d before the restart), %d invokes failed around the kill (first: %v)",
			r, perRound, acked.Load(), failed.n, failed.first)
	}
	sent := time.Since(start)

	ackIDs := acks.snapshot()
	deadline := time.Now().Add(faultDrainWindow)
	var lost []string
	for {
		lost = col.missing(ackIDs)
		if len(lost) == 0 || time.Now().After(deadline) || srv.exited() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	total := time.Since(start)
	delivered, dups, extra, unacked := col.tally(ackIDs)
	t.Logf("acknowledged %d, delivered %d, lost %d, duplicated %d (%d extra deliveries), unacknowledged but delivered %d; sending took %s, delivery checked until %s",
		len(ackIDs), delivered, len(lost), dups, extra, unacked, sent.Round(time.Millisecond), total.Round(time.Millisecond))
	across, same := col.dupSpread()
	t.Logf("duplicated: %d run again by the restarted server, %d run twice by one server process", across, same)
	if len(lost) > 0 {
		slices.SortFunc(lost, func(a, b string) int { return ackIDs[a].n - ackIDs[b].n })
		var b strings.Builder
		for i, id := range lost {
			if i == 50 {
				fmt.Fprintf(&b, "  … and %d more\n", len(lost)-50)
				break
			}
			a := ackIDs[id]
			fmt.Fprintf(&b, "  %s round %d n=%d acknowledged at %s (run +%s)\n", id, a.round, a.n,
				a.at.Format("15:04:05.000"), a.at.Sub(start).Round(time.Millisecond))
		}
		t.Errorf("%d of %d acknowledged events were never delivered within %s (server exited: %v):\n%s",
			len(lost), len(ackIDs), faultDrainWindow, srv.exited(), b.String())
	}
}

// ackedEvent is one acknowledged (202) event.
type ackedEvent struct {
	round, n int
	at       time.Time
}

type ackedEvents struct {
	mu  sync.Mutex
	ids map[string]ackedEvent
}

func (l *ackedEvents) add(id string, a ackedEvent) {
	l.mu.Lock()
	l.ids[id] = a
	l.mu.Unlock()
}

func (l *ackedEvents) snapshot() map[string]ackedEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]ackedEvent, len(l.ids))
	for k, v := range l.ids {
		out[k] = v
	}
	return out
}

// faultFailures counts invokes that got no 202.
type faultFailures struct {
	n     int
	first error
}

// sendAsync runs senders goroutines invoking "collect" asynchronously until
// remaining reaches zero (each 202 takes one) or stop is closed. A failed
// invoke returns its slot: the event was not acknowledged, so another is
// sent in its place.
func sendAsync(c *lambda.Client, round, senders int, remaining, seq *atomic.Int64, acks *ackedEvents, onAck func(), stop <-chan struct{}) faultFailures {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		fail faultFailures
	)
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if remaining.Add(-1) < 0 {
					remaining.Add(1)
					return
				}
				n := int(seq.Add(1))
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				out, err := c.Invoke(ctx, &lambda.InvokeInput{
					FunctionName:   aws.String("collect"),
					InvocationType: types.InvocationTypeEvent,
					Payload:        []byte(`{"n":` + strconv.Itoa(n) + `}`),
				})
				cancel()
				if err == nil && out.StatusCode != http.StatusAccepted {
					err = fmt.Errorf("status %d, want 202", out.StatusCode)
				}
				id := ""
				if err == nil {
					id, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
					if id == "" {
						err = errors.New("202 without a request id")
					}
				}
				if err != nil {
					remaining.Add(1)
					mu.Lock()
					fail.n++
					if fail.first == nil {
						fail.first = err
					}
					mu.Unlock()
					if stop == nil {
						return // the server is meant to be up: report, don't spin
					}
					continue
				}
				acks.add(id, ackedEvent{round: round, n: n, at: time.Now()})
				if onAck != nil {
					onAck()
				}
			}
		}()
	}
	wg.Wait()
	return fail
}

// faultCollector counts deliveries per request id, with the server start
// that ran each. The test, not the function, tells which start that is (a
// function's parent pid means nothing inside the linux sandbox's pid
// namespace): it moves to the next start once the killed server's
// functions are gone.
type faultCollector struct {
	mu      sync.Mutex
	count   map[string]int
	servers map[string][]int
	server  int // the server start whose functions deliver now
}

// nextServer marks later deliveries as the next server start's.
func (c *faultCollector) nextServer() {
	c.mu.Lock()
	c.server++
	c.mu.Unlock()
}

func newFaultCollector() *faultCollector {
	return &faultCollector{count: make(map[string]int), servers: make(map[string][]int)}
}

func (c *faultCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RequestID string `json:"requestId"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.RequestID == "" {
		http.Error(w, "want {\"requestId\":…}", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.count[body.RequestID]++
	c.servers[body.RequestID] = append(c.servers[body.RequestID], c.server)
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// missing lists the acknowledged ids not delivered yet.
func (c *faultCollector) missing(acked map[string]ackedEvent) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id := range acked {
		if c.count[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// dupSpread splits the ids delivered more than once into those run by
// more than one server start (redelivered after a kill) and those run
// twice by one server.
func (c *faultCollector) dupSpread() (acrossKill, sameServer int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pids := range c.servers {
		if len(pids) < 2 {
			continue
		}
		if slices.ContainsFunc(pids, func(p int) bool { return p != pids[0] }) {
			acrossKill++
		} else {
			sameServer++
		}
	}
	return acrossKill, sameServer
}

// tally returns the ids delivered, those delivered more than once, the
// deliveries beyond the first, and the ids delivered that never got a 202.
func (c *faultCollector) tally(acked map[string]ackedEvent) (delivered, dups, extra, unacked int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, n := range c.count {
		delivered++
		if n > 1 {
			dups++
			extra += n - 1
		}
		if _, ok := acked[id]; !ok {
			unacked++
		}
	}
	return delivered, dups, extra, unacked
}

// faultServer is a `gust server` subprocess restarted on one data dir and
// port.
type faultServer struct {
	bin, data, logPath, port string
	cmd                      *exec.Cmd
	done                     chan struct{} // closed when cmd has exited
	log                      *os.File
	starts                   int
}

func newFaultServer(t *testing.T) *faultServer {
	t.Helper()
	dir := t.TempDir()
	s := &faultServer{bin: filepath.Join(dir, "gust"), data: filepath.Join(dir, "data"),
		logPath: filepath.Join(dir, "server.log")}
	build := exec.Command("go", "build", "-o", s.bin, "./cmd/gust")
	build.Dir = gusttest.RepoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as the README builds it
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s.port = port
	if s.log, err = os.Create(s.logPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd != nil && !s.exited() {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.done
			}
		}
		s.log.Close()
		if t.Failed() {
			t.Logf("tail of the server log %s:\n%s", s.logPath, fileTail(s.logPath, 80))
		}
	})
	return s
}

func (s *faultServer) endpoint() string { return "http://127.0.0.1:" + s.port }

// start runs the server and waits until /healthz answers 200.
func (s *faultServer) start(t *testing.T) {
	t.Helper()
	s.starts++
	fmt.Fprintf(s.log, "=== start %d at %s\n", s.starts, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(s.bin, "server", "--sandbox", sandboxKind(), "--data", s.data, "--listen", "127.0.0.1:"+s.port,
		"--python", "/usr/bin/python3", "--async-ack-wait", faultAckWait, "--async-retry-base", "2s")
	cmd.Env = append(os.Environ(), "GUST_ACCESS_KEY_ID="+faultKeyID, "GUST_SECRET_ACCESS_KEY="+faultSecret)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.endpoint() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if s.exited() {
			t.Fatalf("server start %d exited: %v", s.starts, cmd.ProcessState)
		}
		if time.Now().After(deadline) {
			t.Fatalf("server start %d not healthy after 30s", s.starts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL to the server process (not its group: its runtimes
// must die by their parent-death signal).
func (s *faultServer) kill(t *testing.T) {
	if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Errorf("kill server: %v", err)
	}
	fmt.Fprintf(s.log, "=== SIGKILL at %s\n", time.Now().Format(time.RFC3339Nano))
}

// wait waits for the killed server to be gone.
func (s *faultServer) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("server still runs 10s after SIGKILL")
	}
}

func (s *faultServer) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *faultServer) lambda() *lambda.Client {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(faultKeyID, faultSecret, ""),
		HTTPClient:  &http.Client{Timeout: time.Minute},
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		o.BaseEndpoint = aws.String(s.endpoint())
		o.Retryer = aws.NopRetryer{} // one call, one answer: we know which got a 202
	})
}

// waitNoFaultProcess waits until no process has token in its environment: the
// killed server's function runtimes are gone.
func waitNoFaultProcess(t *testing.T, token string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		pids := processesWithToken(token)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("function processes %v outlived the killed server by %s", pids, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processesWithToken lists the live processes whose environment holds token.
func processesWithToken(token string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, []byte(token)) {
			continue
		}
		if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil && isZombie(st) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// isZombie reads the state field of /proc/<pid>/stat.
func isZombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

func faultEnvInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// fileTail returns the last n lines of a file.
func fileTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
