package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Shells keeps a few linux-sandbox environments started ahead of need.
// A shell is everything of an environment that does not depend on the
// function: this binary re-executed as the init of fresh mount, pid, ipc,
// uts and network namespaces, in its cgroup, inside its private root,
// with the network plumbed and the Runtime API listener open. The init
// waits for its configuration. Start hands a ready shell the function's
// configuration (code, environment, limits), so a cold start skips the
// server binary's start-up, the namespaces, the network, the cgroup and
// the root.
//
// A stem cell is a shell whose runtime is started too: an interpreter
// with Gust's bootstrap loaded, waiting for the function's environment
// (see Stem). A cold start of a function of that runtime then skips the
// interpreter's own start-up as well.
//
// A shell is used once: the environment it becomes is built, mounted and
// limited exactly as a fresh one, from the same configuration. Shells are
// made only for the linux sandbox; other specs, and any start that finds
// no fitting shell ready, start afresh. A nil *Shells starts everything
// afresh.
type Shells struct {
	logger *slog.Logger
	pools  []*shellPool // plain shells first, then one pool per stem

	mu     sync.Mutex
	closed bool
	kick   chan struct{} // wakes the filler; capacity 1
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup

	taken, missed atomic.Int64
}

// shellPool is the ready shells of one shape.
type shellPool struct {
	name  string
	size  int
	tmpl  *shellTemplate
	ready []*shell // guarded by Shells.mu
}

// ShellsOptions configures NewShells.
type ShellsOptions struct {
	// Size is how many plain shells to keep ready.
	Size int
	// RuntimeDir is the runtime directory every environment binds (see
	// Spec.RuntimeDir), if any: plain shells bind it ahead.
	RuntimeDir string
	// Stems are the runtimes to keep started in shells, each
	// Stem.Count times.
	Stems  []Stem
	Logger *slog.Logger
}

// shellMemoryMB is the size shells are made with; launch resizes the
// cgroup to the function's MemorySize (never below it: Lambda's minimum).
const shellMemoryMB = 128

// Filler back-off after a failed shell start.
const (
	shellRetryMin = 100 * time.Millisecond
	shellRetryMax = 30 * time.Second
)

// NewShells keeps the shells opts asks for ready (none if shells cannot
// be made here) and starts filling at once. A stem that cannot run here
// is logged and left out. Close releases them.
func NewShells(opts ShellsOptions) *Shells {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Shells{logger: logger.With("component", "sandbox"), kick: make(chan struct{}, 1), done: make(chan struct{})}
	if !shellsSupported() {
		return s
	}
	if opts.Size > 0 {
		if t, err := plainTemplate(opts.RuntimeDir); err != nil {
			s.logger.Warn("no sandbox shells", "err", err)
		} else {
			s.pools = append(s.pools, &shellPool{name: "shell", size: opts.Size, tmpl: t})
		}
	}
	for _, st := range opts.Stems {
		if st.Count <= 0 {
			continue
		}
		t, err := stemTemplate(st)
		if err != nil {
			s.logger.Warn("no stem cells for this runtime", "stem", st.Name, "err", err)
			continue
		}
		s.pools = append(s.pools, &shellPool{name: st.Name, size: st.Count, tmpl: t})
	}
	if len(s.pools) > 0 {
		s.wg.Add(1)
		go s.fill()
		s.wake()
	}
	return s
}

// Start starts spec like the package's Start, in a ready shell when one
// fits: a stem cell of spec's runtime, else a plain shell.
func (s *Shells) Start(spec Spec) (*Process, error) {
	if s == nil || len(s.pools) == 0 || spec.Kind != KindLinux || spec.hostNetwork || spec.StateDir != "" {
		return Start(spec)
	}
	cfg, err := linuxStartConfig(spec)
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	var p *Process
	// The filler starts the next shell once this start is done: made
	// alongside, it would compete for the CPU and the kernel's mount,
	// network and cgroup locks.
	defer s.wake()
	if sh := s.take(cfg); sh != nil {
		s.taken.Add(1)
		p, err = sh.launch(cfg, spec)
		if errors.Is(err, errShellLost) {
			// The shell died under us (killed from outside, or its stem
			// runtime crashed): the spec is not at fault, so start it
			// afresh. launch changed nothing of cfg a fresh start does
			// not set again.
			s.logger.Warn("a sandbox shell died before its launch; starting afresh", "err", err)
			p, err = startInit(cfg, spec)
		}
	} else {
		s.missed.Add(1)
		p, err = startInit(cfg, spec)
	}
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	return p, nil
}

// Stats reports how many starts took a ready shell and how many found
// none and started afresh.
func (s *Shells) Stats() (taken, missed int64) {
	if s == nil {
		return 0, 0
	}
	return s.taken.Load(), s.missed.Load()
}

// Ready is how many shells of the pool named name ("shell" for plain
// shells, else a Stem's Name) wait now.
func (s *Shells) Ready(name string) int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pools {
		if p.name == name {
			return len(p.ready)
		}
	}
	return 0
}

// Full reports whether every pool holds all the shells it keeps.
func (s *Shells) Full() bool {
	if s == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pools {
		if len(p.ready) < p.size {
			return false
		}
	}
	return true
}

// take pops a live shell that fits cfg: a stem cell of its runtime, else
// a plain shell. It discards any whose init has died.
func (s *Shells) take(cfg *initConfig) *shell {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil
		}
		var pool *shellPool
		for _, stems := range []bool{true, false} {
			for _, p := range s.pools {
				if pool == nil && p.tmpl.isStem() == stems && len(p.ready) > 0 && p.tmpl.fits(cfg) {
					pool = p
				}
			}
		}
		if pool == nil {
			s.mu.Unlock()
			return nil
		}
		n := len(pool.ready)
		sh := pool.ready[n-1]
		pool.ready = pool.ready[:n-1]
		s.mu.Unlock()
		if sh.alive() {
			return sh
		}
		if err := sh.discard(nil); err != nil {
			s.logger.Warn("discard a dead sandbox shell", "err", err)
		}
	}
}

func (s *Shells) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// short returns a pool that lacks a shell, or nil.
func (s *Shells) short() *shellPool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	for _, p := range s.pools {
		if len(p.ready) < p.size {
			return p
		}
	}
	return nil
}

// fill keeps every pool at its size, one start at a time, backing off
// while starts fail.
func (s *Shells) fill() {
	defer s.wg.Done()
	backoff := shellRetryMin
	for {
		select {
		case <-s.done:
			return
		case <-s.kick:
		}
		for pool := s.short(); pool != nil; pool = s.short() {
			sh, err := newShell(pool.tmpl)
			if err != nil {
				s.logger.Warn("start a sandbox shell", "pool", pool.name, "err", err, "retry_in", backoff)
				select {
				case <-s.done:
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, shellRetryMax)
				continue
			}
			backoff = shellRetryMin
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				_ = sh.discard(nil)
				return
			}
			pool.ready = append(pool.ready, sh)
			s.mu.Unlock()
		}
	}
}

// Close stops the filler and kills every waiting shell.
func (s *Shells) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	var ready []*shell
	for _, p := range s.pools {
		ready = append(ready, p.ready...)
		p.ready = nil
	}
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
	for _, sh := range ready {
		if err := sh.discard(nil); err != nil {
			s.logger.Warn("discard a sandbox shell", "err", err)
		}
	}
}
