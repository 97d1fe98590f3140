package envpool

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"gust/internal/lambda"
)

// newAccountingManager is a Manager with no launcher: these tests drive
// the admission accounting directly, as Acquire and Release do.
func newAccountingManager(t *testing.T, max int) *Manager {
	t.Helper()
	m := New(Options{MaxConcurrency: max, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		// Slots these tests leave taken would make Close wait for them.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = m.Close(ctx)
	})
	return m
}

// take admits and counts one busy environment of name, as Acquire does,
// returning the throttle reason ("" when admitted).
func take(m *Manager, name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.admit(name); err != nil {
		var le *lambda.Error
		if !errors.As(err, &le) || le.Code != "TooManyRequestsException" {
			return "unexpected error: " + err.Error()
		}
		return le.Reason
	}
	m.takeSlot(name)
	return ""
}

func free(m *Manager, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.freeSlot(name)
}

const (
	reservedLimit = lambda.ReasonReservedFunctionConcurrentLimitExceeded
	accountLimit  = lambda.ReasonConcurrentInvocationLimitExceeded
)

func wantTake(t *testing.T, m *Manager, name, want string) {
	t.Helper()
	if got := take(m, name); got != want {
		t.Fatalf("take(%s) = %q, want %q", name, got, want)
	}
}

func TestReservedZeroThrottlesEverything(t *testing.T) {
	m := newAccountingManager(t, 10)
	m.SetReserved("off", 0)
	wantTake(t, m, "off", reservedLimit)
	wantTake(t, m, "other", "")
	if n, ok := m.Reserved("off"); n != 0 || !ok {
		t.Errorf("Reserved(off) = %d, %v; want 0, true", n, ok)
	}
	m.SetReserved("neg", -3) // taken as 0
	wantTake(t, m, "neg", reservedLimit)
}

func TestReservedCapsTheFunction(t *testing.T) {
	m := newAccountingManager(t, 10)
	m.SetReserved("r", 2)
	wantTake(t, m, "r", "")
	wantTake(t, m, "r", "")
	wantTake(t, m, "r", reservedLimit)
	free(m, "r")
	wantTake(t, m, "r", "")
	if st := m.Stats(); st.Busy != 2 {
		t.Errorf("Busy = %d, want 2", st.Busy)
	}
}

func TestUnreservedShareExcludesReservations(t *testing.T) {
	m := newAccountingManager(t, 10)
	m.SetReserved("r", 4) // 6 left for everyone else
	for range 6 {
		wantTake(t, m, "u", "")
	}
	wantTake(t, m, "v", accountLimit)
	// The reserved function is not limited by the unreserved pool being full.
	for range 4 {
		wantTake(t, m, "r", "")
	}
	wantTake(t, m, "r", reservedLimit)
	// Dropping the reservation gives its 4 back to the shared pool, which
	// "r" now joins with its 4 busy environments: 10 busy, no room.
	m.ClearReserved("r")
	if _, ok := m.Reserved("r"); ok {
		t.Error("Reserved(r) still set after ClearReserved")
	}
	wantTake(t, m, "v", accountLimit)
	free(m, "r")
	wantTake(t, m, "v", "")
	m.ClearReserved("never-set") // no-op
	wantTake(t, m, "v", accountLimit)
}

func TestReservationChangesWhileBusy(t *testing.T) {
	m := newAccountingManager(t, 10)
	for range 3 {
		wantTake(t, m, "f", "")
	}
	// Reserving moves f's 3 busy environments out of the shared count.
	m.SetReserved("f", 3)
	for range 7 {
		wantTake(t, m, "u", "")
	}
	wantTake(t, m, "u", accountLimit)
	wantTake(t, m, "f", reservedLimit)
	// Lowering the reservation below what is busy stops new work only.
	m.SetReserved("f", 1)
	free(m, "f")
	free(m, "f")
	wantTake(t, m, "f", reservedLimit)
	free(m, "f")
	wantTake(t, m, "f", "")
	// Raising it lowers the shared pool: 10-5 = 5 < the 7 "u" already hold.
	m.SetReserved("f", 5)
	free(m, "u")
	free(m, "u")
	wantTake(t, m, "u", accountLimit)
	free(m, "u")
	wantTake(t, m, "u", "")
	m.mu.Lock()
	c := m.conc
	m.mu.Unlock()
	if c.reservedTotal != 5 || c.unreservedBusy != 5 || c.fnBusy["f"] != 1 || m.Stats().Busy != 6 {
		t.Errorf("accounting = %+v, busy %d; want reservedTotal 5, unreservedBusy 5, f 1, busy 6", c, m.Stats().Busy)
	}
}

func TestOverReservedKeepsMachineCap(t *testing.T) {
	// Reservations persisted under a larger MaxConcurrency may exceed a
	// smaller one after a restart; the account cap still holds.
	m := newAccountingManager(t, 3)
	m.SetReserved("a", 2)
	m.SetReserved("b", 2)
	wantTake(t, m, "u", accountLimit)
	wantTake(t, m, "a", "")
	wantTake(t, m, "a", "")
	wantTake(t, m, "b", "")
	wantTake(t, m, "b", accountLimit)
}
