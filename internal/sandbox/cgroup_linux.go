package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	cgroups "github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Resource limits of one linux-sandbox environment (Lambda's).
const (
	pidsLimit    = 1024 // processes and threads
	nofileLimit  = 1024 // open files per process
	mbPerCore    = 1769 // MemorySize that buys one full core
	cpuPeriodUs  = 100_000
	minCPUQuotaU = 1_000 // the kernel's minimum quota
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupParent is the directory, under the server's own cgroup in each
// hierarchy, that holds one cgroup per environment.
const cgroupParent = "gust"

var cgroupSeq atomic.Int64

// envCgroup is one environment's cgroup, v1 (one directory per controller)
// or v2 (one directory). It implements limiter.
type envCgroup struct {
	v1 cgroup1.Cgroup
	v2 *cgroup2.Manager
	// memDir is the memory controller's directory (v1) or the cgroup (v2).
	memDir string
	cpuDir string // v1 only: the cpu controller's directory
	// procs are the cgroup.procs files the environment's init writes "0"
	// to, joining the cgroup just before it starts the runtime (so the
	// sandbox's own set-up is not throttled by the runtime's CPU share).
	procs []string
	dirs  []string // every directory created, for cleanup after a failure

	peakMu   sync.Mutex
	peakFile *os.File // the memory high-water mark file, opened on first use
	peakDone bool     // finish closed it
}

// cgroupName is unique per server process and environment, so concurrent
// servers (and test binaries) sharing a cgroup never collide.
func cgroupName() string {
	return strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(cgroupSeq.Add(1), 10)
}

// cpuQuota is the CFS quota, per cpuPeriodUs, of a function with memoryMB:
// memoryMB/1769 of one core, capped at the machine's cores.
func cpuQuota(memoryMB int) int64 {
	q := int64(memoryMB) * cpuPeriodUs / mbPerCore
	return min(max(q, minCPUQuotaU), int64(runtime.NumCPU())*cpuPeriodUs)
}

// newEnvCgroup creates the environment's cgroup with its memory and pids
// limits. Its CPU is not limited until resize sets the function's quota:
// the sandbox's own set-up, which runs in the cgroup, is not throttled by
// the function's share. Nothing joins it yet.
func newEnvCgroup(memoryMB int) (*envCgroup, error) {
	if memoryMB <= 0 {
		memoryMB = 128
	}
	mem := int64(memoryMB) << 20
	pids := int64(pidsLimit)
	oomKiller := false
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &mem, DisableOOMKiller: &oomKiller},
		Pids:   &specs.LinuxPids{Limit: &pids},
	}
	name := filepath.Join(cgroupParent, cgroupName())
	if cgroups.Mode() == cgroups.Unified {
		return newCgroup2(name, res)
	}
	return newCgroup1(name, res)
}

func newCgroup1(name string, res *specs.LinuxResources) (*envCgroup, error) {
	memCtl := cgroup1.NewMemory(cgroupRoot, cgroup1.OptionalSwap())
	// No swap: memory+swap is capped at the same figure, where the kernel
	// accounts swap at all.
	if _, err := os.Stat(filepath.Join(cgroupRoot, "memory", "memory.memsw.limit_in_bytes")); err == nil {
		res.Memory.Swap = res.Memory.Limit
	} else {
		swappiness := uint64(0)
		res.Memory.Swappiness = &swappiness
	}
	subsystems := []cgroup1.Subsystem{memCtl, cgroup1.NewCpu(cgroupRoot), cgroup1.NewPids(cgroupRoot), cgroup1.NewFreezer(cgroupRoot)}
	path := cgroup1.NestedPath(name)
	c := &envCgroup{}
	for _, s := range subsystems {
		p, err := path(s.Name())
		if err != nil {
			return nil, fmt.Errorf("cgroup %s: %w", s.Name(), err)
		}
		dir := filepath.Join(cgroupRoot, string(s.Name()), p)
		if _, err := os.Stat(filepath.Join(cgroupRoot, string(s.Name()))); err != nil {
			return nil, fmt.Errorf("cgroup v1 %s controller: %w", s.Name(), err)
		}
		c.dirs = append(c.dirs, dir)
		c.procs = append(c.procs, filepath.Join(dir, "cgroup.procs"))
		switch s.Name() {
		case cgroup1.Memory:
			c.memDir = dir
		case cgroup1.Cpu:
			c.cpuDir = dir
		}
	}
	cg, err := cgroup1.New(path, res, cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) { return subsystems, nil }))
	if err != nil {
		c.removeDirs()
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	c.v1 = cg
	return c, nil
}

func newCgroup2(name string, res *specs.LinuxResources) (*envCgroup, error) {
	group, err := cgroup2.NestedGroupPath(name)
	if err != nil {
		return nil, fmt.Errorf("cgroup v2 path: %w", err)
	}
	// memory.swap.max = 0: no swap.
	var swap int64
	r := cgroup2.ToResources(res)
	r.Memory.Swap = &swap
	m, err := cgroup2.NewManager(cgroupRoot, group, r)
	if err != nil {
		return nil, fmt.Errorf("create cgroup (v2 needs the server in a delegated cgroup): %w", err)
	}
	dir := filepath.Join(cgroupRoot, group)
	return &envCgroup{v2: m, memDir: dir, procs: []string{filepath.Join(dir, "cgroup.procs")}, dirs: []string{dir}}, nil
}

// peak is the memory high-water mark in bytes, 0 if unreadable.
func (c *envCgroup) peak() int64 {
	c.peakMu.Lock()
	if c.peakFile == nil && !c.peakDone {
		file := "memory.max_usage_in_bytes"
		if c.v2 != nil {
			file = "memory.peak" // Linux 5.19+
		}
		// Kept open: every warm invocation reads it, and a pread is one
		// system call where open, read, close are three.
		c.peakFile, _ = os.Open(filepath.Join(c.memDir, file))
	}
	f := c.peakFile
	c.peakMu.Unlock()
	if f == nil {
		return 0
	}
	var buf [32]byte
	n, err := f.ReadAt(buf[:], 0)
	if n == 0 && err != nil {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(string(buf[:n])), 10, 64)
	return v
}

// closePeak closes the kept-open peak file; peak reads 0 after.
func (c *envCgroup) closePeak() {
	c.peakMu.Lock()
	defer c.peakMu.Unlock()
	if c.peakFile != nil {
		c.peakFile.Close()
		c.peakFile = nil
	}
	c.peakDone = true
}

// oomKills is how many processes the kernel killed for the memory limit.
func (c *envCgroup) oomKills() int64 {
	if c.v2 != nil {
		return readKey(filepath.Join(c.memDir, "memory.events"), "oom_kill")
	}
	return readKey(filepath.Join(c.memDir, "memory.oom_control"), "oom_kill")
}

// readKey reads "key value" lines and returns key's value, 0 if missing.
func readKey(file, key string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// finish implements limiter: kill every process left, read the OOM count
// and peak, and remove the cgroup.
func (c *envCgroup) finish() (oom bool, peak int64, err error) {
	killErr := c.killAll()
	oom, peak = c.oomKills() > 0, c.peak()
	c.closePeak()
	var delErr error
	if c.v2 != nil {
		delErr = c.v2.Delete()
	} else {
		delErr = c.v1.Delete()
	}
	if delErr != nil {
		delErr = fmt.Errorf("remove cgroup: %w", delErr)
	}
	return oom, peak, errors.Join(killErr, delErr)
}

// killAll kills every process in the cgroup and waits until it is empty.
// After the namespace's init died there is normally nothing left; this is
// the guarantee that no process survives its environment.
func (c *envCgroup) killAll() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := c.pids()
		if err != nil || len(pids) == 0 {
			return err
		}
		if c.v2 != nil {
			_ = c.v2.Kill()
		} else {
			// Frozen, no process can fork while the others are killed.
			_ = c.v1.Freeze()
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			_ = c.v1.Thaw()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup still holds processes %v", pids)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pids lists the processes in the cgroup (memory controller in v1, which
// every environment process is in).
func (c *envCgroup) pids() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(c.memDir, "cgroup.procs"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// removeDirs removes what a failed creation left, deepest first.
func (c *envCgroup) removeDirs() {
	for _, d := range c.dirs {
		_ = os.Remove(d)
	}
}

// resize gives the cgroup the memory limit and CPU quota of memoryMB,
// before the runtime starts in it. Only the sandbox's init, with a few
// megabytes, has joined it yet, so lowering the limit cannot fail.
func (c *envCgroup) resize(memoryMB int) error {
	if memoryMB <= 0 {
		memoryMB = 128
	}
	mem := int64(memoryMB) << 20
	quota, period := cpuQuota(memoryMB), uint64(cpuPeriodUs)
	if c.v2 != nil {
		err := c.v2.Update(&cgroup2.Resources{
			Memory: &cgroup2.Memory{Max: &mem},
			CPU:    &cgroup2.CPU{Max: cgroup2.NewCPUMax(&quota, &period)},
		})
		if err != nil {
			return fmt.Errorf("resize cgroup: %w", err)
		}
		return nil
	}
	// v1 by hand: containerd's Update orders memory.limit_in_bytes and
	// memory.memsw.limit_in_bytes wrongly when both grow, and the kernel
	// refuses a limit above memsw (or memsw below the limit).
	files := []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}
	if old, err := os.ReadFile(filepath.Join(c.memDir, files[0])); err == nil {
		if v, _ := strconv.ParseInt(strings.TrimSpace(string(old)), 10, 64); v < mem {
			files[0], files[1] = files[1], files[0]
		}
	}
	value := []byte(strconv.FormatInt(mem, 10))
	for _, f := range files {
		err := os.WriteFile(filepath.Join(c.memDir, f), value, 0)
		if err != nil && !(f == "memory.memsw.limit_in_bytes" && errors.Is(err, os.ErrNotExist)) {
			return fmt.Errorf("resize cgroup: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(c.cpuDir, "cpu.cfs_quota_us"), []byte(strconv.FormatInt(quota, 10)), 0); err != nil {
		return fmt.Errorf("resize cgroup: %w", err)
	}
	return nil
}
