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
// uts and network namespaces, the network plumbed with the Runtime API
// listener open inside it, and a cgroup nothing has joined yet. The init
// waits for its configuration. Start hands a ready shell the function's
// configuration (code, environment, limits), so a cold start skips the
// server binary's start-up, the namespaces, the network and the cgroup,
// and refills the pool in the background.
//
// A shell is used once: the environment it becomes is built, mounted and
// limited exactly as a fresh one, from the same configuration, so a
// function cannot tell the two apart. Shells are made only for the linux
// sandbox; other specs, and any start while the pool is empty, start
// afresh. A nil *Shells starts everything afresh.
type Shells struct {
	size   int
	logger *slog.Logger

	mu     sync.Mutex
	ready  []*shell
	closed bool
	kick   chan struct{} // wakes the filler; capacity 1
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup

	taken, missed atomic.Int64
}

// shellMemoryMB is the size shells are made with; launch resizes the
// cgroup to the function's MemorySize (never below it: Lambda's minimum).
const shellMemoryMB = 128

// Filler back-off after a failed shell start.
const (
	shellRetryMin = 100 * time.Millisecond
	shellRetryMax = 30 * time.Second
)

// NewShells keeps size shells ready (none if size ≤ 0 or shells cannot
// be made here) and starts filling at once. Close releases them.
func NewShells(size int, logger *slog.Logger) *Shells {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Shells{size: size, logger: logger.With("component", "sandbox"),
		kick: make(chan struct{}, 1), done: make(chan struct{})}
	if size > 0 && shellsSupported() {
		s.wg.Add(1)
		go s.fill()
		s.wake()
	}
	return s
}

// Start starts spec like the package's Start, in a ready shell when one
// fits.
func (s *Shells) Start(spec Spec) (*Process, error) {
	if s == nil || s.size <= 0 || spec.Kind != KindLinux || spec.hostNetwork || spec.StateDir != "" {
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
	if sh := s.take(); sh != nil {
		s.taken.Add(1)
		p, err = sh.launch(cfg, spec)
		if errors.Is(err, errShellLost) {
			// The shell died under us (killed from outside): the spec is
			// not at fault, so start it afresh. launch changed nothing
			// of cfg a fresh start does not set again.
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

// Ready is how many shells wait now.
func (s *Shells) Ready() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ready)
}

// take pops a live shell, discarding any whose init has died.
func (s *Shells) take() *shell {
	for {
		s.mu.Lock()
		n := len(s.ready)
		if n == 0 || s.closed {
			s.mu.Unlock()
			return nil
		}
		sh := s.ready[n-1]
		s.ready = s.ready[:n-1]
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

// fill keeps the pool at size, one start at a time, backing off while
// starts fail.
func (s *Shells) fill() {
	defer s.wg.Done()
	backoff := shellRetryMin
	for {
		select {
		case <-s.done:
			return
		case <-s.kick:
		}
		for {
			s.mu.Lock()
			short := !s.closed && len(s.ready) < s.size
			s.mu.Unlock()
			if !short {
				break
			}
			sh, err := newShell()
			if err != nil {
				s.logger.Warn("start a sandbox shell", "err", err, "retry_in", backoff)
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
			s.ready = append(s.ready, sh)
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
	ready := s.ready
	s.ready = nil
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
	for _, sh := range ready {
		if err := sh.discard(nil); err != nil {
			s.logger.Warn("discard a sandbox shell", "err", err)
		}
	}
}
