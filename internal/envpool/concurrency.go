package envpool

import "gust/internal/lambda"

// concurrency is the Manager's admission accounting, as Lambda does it:
// a function with reserved concurrency r may have at most r busy
// environments (across all its versions) and is not limited by anyone
// else; functions without a reservation share the rest of the account,
// MaxConcurrency minus the sum of all reservations. Every field is
// guarded by Manager.mu; the checks are a map lookup or two, so the hot
// path takes no lock beyond the one Acquire already holds.
type concurrency struct {
	reserved       map[string]int // function name → reservation
	reservedTotal  int            // sum of reserved
	fnBusy         map[string]int // busy (and starting) environments per function
	unreservedBusy int            // busy environments of functions without a reservation
}

// admit reports whether one more environment of the named function may
// become busy, or the throttle to answer with. Callers hold m.mu and, on
// nil, call takeSlot before releasing it.
func (m *Manager) admit(name string) error {
	c := &m.conc
	if r, ok := c.reserved[name]; ok {
		if c.fnBusy[name] >= r {
			return lambda.Throttled(lambda.ReasonReservedFunctionConcurrentLimitExceeded)
		}
	} else if c.unreservedBusy >= m.opts.MaxConcurrency-c.reservedTotal {
		return lambda.Throttled(lambda.ReasonConcurrentInvocationLimitExceeded)
	}
	// With reservations that fit the account (the API keeps them so) this
	// never refuses; it holds the machine-wide cap should a restart with a
	// smaller MaxConcurrency leave more reserved than there is.
	if m.busy >= m.opts.MaxConcurrency {
		return lambda.Throttled(lambda.ReasonConcurrentInvocationLimitExceeded)
	}
	return nil
}

// takeSlot counts one more busy environment of the named function.
// Callers hold m.mu.
func (m *Manager) takeSlot(name string) {
	c := &m.conc
	if c.fnBusy == nil {
		c.fnBusy = make(map[string]int)
	}
	c.fnBusy[name]++
	if _, ok := c.reserved[name]; !ok {
		c.unreservedBusy++
	}
	m.busy++
}

// freeSlot undoes takeSlot. Callers hold m.mu.
func (m *Manager) freeSlot(name string) {
	c := &m.conc
	if n := c.fnBusy[name]; n > 1 {
		c.fnBusy[name] = n - 1
	} else {
		delete(c.fnBusy, name)
	}
	if _, ok := c.reserved[name]; !ok {
		c.unreservedBusy--
	}
	m.busy--
}

// SetReserved gives the named function a reserved concurrency of n busy
// environments across all its versions (n < 0 is taken as 0, which
// throttles every invocation). It replaces any earlier reservation and
// takes effect for the next Acquire; invocations already running are not
// stopped, so the function may stay above a lowered n until they end.
// The Manager does not check that reservations fit MaxConcurrency; the
// caller (the API) does.
func (m *Manager) SetReserved(name string, n int) {
	n = max(n, 0)
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &m.conc
	if old, ok := c.reserved[name]; ok {
		c.reservedTotal -= old
	} else {
		c.unreservedBusy -= c.fnBusy[name]
	}
	if c.reserved == nil {
		c.reserved = make(map[string]int)
	}
	c.reserved[name] = n
	c.reservedTotal += n
}

// UpdateReserved runs update, which reads or writes the named function's
// reservation where it is kept (the store), and applies its result:
// SetReserved(n), or ClearReserved when ok is false. Nothing is applied
// when update fails. Updates run one at a time, so a reservation read
// before a change can never be applied after that change's own.
func (m *Manager) UpdateReserved(name string, update func() (n int, ok bool, err error)) error {
	m.reserveMu.Lock()
	defer m.reserveMu.Unlock()
	n, ok, err := update()
	if err != nil {
		return err
	}
	if ok {
		m.SetReserved(name, n)
	} else {
		m.ClearReserved(name)
	}
	return nil
}

// ClearReserved removes the named function's reservation, if any: it goes
// back to sharing the account's unreserved concurrency.
func (m *Manager) ClearReserved(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &m.conc
	old, ok := c.reserved[name]
	if !ok {
		return
	}
	delete(c.reserved, name)
	c.reservedTotal -= old
	c.unreservedBusy += c.fnBusy[name]
}

// Reserved returns the named function's reservation as the Manager
// enforces it; ok is false when it has none.
func (m *Manager) Reserved(name string) (n int, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok = m.conc.reserved[name]
	return n, ok
}
