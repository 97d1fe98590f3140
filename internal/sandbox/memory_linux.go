package sandbox

import (
	"bytes"
	"os"
	"strconv"
)

// maxTreeWalk bounds how many processes one memory sample visits, so a
// fork bomb cannot make sampling expensive.
const maxTreeWalk = 256

// SampleMemory returns the peak resident memory of the process tree in
// bytes: the sum of each live member's high-water mark (VmHWM), walking
// from the leader through /proc/<pid>/task/<tid>/children. It records the
// largest value seen and returns that, so a child that peaked and exited
// still counts. It reads a few small /proc files; callers sample at invoke
// boundaries.
func (p *Process) SampleMemory() int64 {
	var total int64
	queue := []int{p.pgid}
	for visited := 0; len(queue) > 0 && visited < maxTreeWalk; visited++ {
		pid := queue[0]
		queue = queue[1:]
		total += readHWM(pid)
		queue = append(queue, readChildren(pid)...)
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
		for _, f := range bytes.Fields(b) {
			if k, err := strconv.Atoi(string(f)); err == nil {
				kids = append(kids, k)
			}
		}
	}
	return kids
}
