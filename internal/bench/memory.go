package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Memory is what one idle environment of a runtime's function holds,
// summed over its processes as the host sees them: the runtime, and in
// the linux sandbox the environment's init (every process of its pid
// namespace).
type Memory struct {
	Function  string `json:"fn"`
	Processes int    `json:"processes"`
	// RSSMB counts every resident page of each process, shared ones (the
	// interpreter's and the gust binary's code) in full.
	RSSMB float64 `json:"rss_mb"`
	// PSSMB divides shared pages among the processes sharing them.
	PSSMB float64 `json:"pss_mb"`
	// PrivateMB is what only the environment's processes hold: what
	// another environment of the same runtime adds.
	PrivateMB float64 `json:"private_mb"`
}

// whoamiPayload asks each bench function for its environment's log
// stream name.
const whoamiPayload = `{"hold_ms":0,"whoami":true}`

// measureMemory invokes runtime rt's function once, then finds its
// environment's processes on this host by the log stream name in their
// environment (and, in the linux sandbox, their pid namespace) and sums
// their memory. It needs the server on this machine and the right to read
// the runtimes' /proc files (root for the linux sandbox); without, it
// returns an error the caller reports and skips.
func measureMemory(ctx context.Context, t *target, rt string) (Memory, error) {
	out, err := t.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(functionName(rt)), Payload: []byte(whoamiPayload)})
	if err != nil {
		return Memory{}, fmt.Errorf("bench: memory %s: %w", rt, err)
	}
	var who struct {
		Env    string `json:"env"`
		Stream string `json:"stream"`
	}
	if err := json.Unmarshal(out.Payload, &who); err != nil || who.Env+who.Stream == "" {
		return Memory{}, fmt.Errorf("bench: memory %s: the function did not name its log stream: %s", rt, out.Payload)
	}
	pids := environmentPids(who.Env + who.Stream)
	if len(pids) == 0 {
		return Memory{}, fmt.Errorf("bench: memory %s: no process of the environment is visible here", rt)
	}
	m := Memory{Function: rt, Processes: len(pids)}
	for _, pid := range pids {
		m.RSSMB += float64(procKB(pid, "status", "VmRSS")) / 1024
		m.PSSMB += float64(procKB(pid, "smaps_rollup", "Pss")) / 1024
		m.PrivateMB += float64(procKB(pid, "smaps_rollup", "Private_Clean")+procKB(pid, "smaps_rollup", "Private_Dirty")) / 1024
	}
	return m, nil
}

// environmentPids lists the host's processes of the environment whose
// log stream is stream: those with the stream in their environment, and
// every process of their pid namespaces unless that is this process's.
func environmentPids(stream string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte("\x00AWS_LAMBDA_LOG_STREAM_NAME=" + stream + "\x00")
	own, _ := os.Readlink("/proc/self/ns/pid")
	namespaces := map[string]bool{}
	var all []int
	found := map[int]bool{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		all = append(all, pid)
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(append([]byte{0}, env...), want) {
			continue
		}
		found[pid] = true
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && ns != own {
			namespaces[ns] = true
		}
	}
	var pids []int
	for _, pid := range all {
		ns, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
		if found[pid] || namespaces[ns] {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procKB reads a "Key: N kB" line of /proc/<pid>/<file>; 0 if absent.
func procKB(pid int, file, key string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && k == key {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}
