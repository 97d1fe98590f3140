package sandbox

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// maxTreeWalk bounds how many processes one memory sample visits, so a
// fork bomb cannot make sampling expensive.
const maxTreeWalk = 256

// fullWalkEvery is how often SampleMemory looks at the children of every
// thread rather than of main threads only. Runtimes fork from their main
// thread (Node, Python); a Go runtime may fork from any thread, which the
// periodic full walk catches.
const fullWalkEvery = 8

// minSampleInterval spaces reads of /proc: a high-water mark only grows,
// so within this interval the last peak is still the answer, and a busy
// warm environment costs a few /proc reads a second rather than one per
// invocation (reading a Node process's status file costs ~50 µs).
const minSampleInterval = 100 * time.Millisecond

// SampleMemory returns the peak resident memory of the process tree in
// bytes: the sum of each live member's high-water mark (VmHWM), walking
// from the leader through the children files under /proc. It records the
// largest value seen and returns that, so a child that peaked and exited
// still counts. It is on the invoke path, so it reads as little as it can:
// nothing within minSampleInterval of the last read, else one status file
// per process, and the main thread's children except on every
// fullWalkEvery-th read (and the first).
//
// In the linux sandbox it reads the cgroup's high-water mark instead (one
// small file), which counts every process of the environment and its /tmp.
func (p *Process) SampleMemory() int64 {
	if p.limits != nil {
		v := p.limits.peak() // 0 once the cgroup is gone: the last value stays
		p.mu.Lock()
		defer p.mu.Unlock()
		p.peak = max(p.peak, v)
		return p.peak
	}
	now := time.Now()
	p.mu.Lock()
	if !p.lastSample.IsZero() && now.Sub(p.lastSample) < minSampleInterval {
		peak := p.peak
		p.mu.Unlock()
		return peak
	}
	p.lastSample = now
	full := p.samples%fullWalkEvery == 0
	p.samples++
	p.mu.Unlock()
	var total int64
	queue := []int{p.pgid}
	for visited := 0; len(queue) > 0 && visited < maxTreeWalk; visited++ {
		pid := queue[0]
		queue = queue[1:]
		total += readHWM(pid)
		if full {
			queue = append(queue, readChildren(pid)...)
		} else {
			queue = append(queue, readMainChildren(pid)...)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if total > p.peak {
		p.peak = total
	}
	return p.peak
}

// readHWM returns VmHWM of pid in bytes, 0 if it cannot be read.
func readHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	i := bytes.Index(b, []byte("VmHWM:"))
	if i < 0 {
		return 0
	}
	line := b[i+len("VmHWM:"):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	fields := bytes.Fields(line) // "1234", "kB"
	if len(fields) == 0 {
		return 0
	}
	kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
	if err != nil {
		return 0
	}
	return kb * 1024
}

// readMainChildren lists the children of pid's main thread.
func readMainChildren(pid int) []int {
	id := strconv.Itoa(pid)
	b, err := os.ReadFile("/proc/" + id + "/task/" + id + "/children")
	if err != nil {
		return nil
	}
	return parsePids(b, nil)
}

func parsePids(b []byte, into []int) []int {
	for _, f := range bytes.Fields(b) {
		if k, err := strconv.Atoi(string(f)); err == nil {
			into = append(into, k)
		}
	}
	return into
}

// readChildren lists the children of every thread of pid.
func readChildren(pid int) []int {
	base := "/proc/" + strconv.Itoa(pid) + "/task/"
	tasks, err := os.ReadDir(base)
	if err != nil {
		return nil
	}
	var kids []int
	for _, t := range tasks {
		b, err := os.ReadFile(base + t.Name() + "/children")
		if err != nil {
			continue
		}
		kids = parsePids(b, kids)
	}
	return kids
}

// preferForOOM makes the kernel's OOM killer choose pid (and the children
// it forks later, which inherit the setting) before anything else, so a
// function that eats the machine's memory dies instead of the server. The
// process sandbox sets no memory limit of its own; raising one's own
// oom_score_adj needs no privilege. Best effort: on failure the process
// just keeps the default score.
func preferForOOM(pid int) {
	_ = os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte("1000\n"), 0)
}
