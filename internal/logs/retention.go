package logs

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// RetentionDays are the retention periods CloudWatch Logs accepts, in days.
var RetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

const msPerDay = 24 * 60 * 60 * 1000

// SetRetention sets how many days the events of a group are kept; 0
// removes the policy, so they never expire. days must be 0 or one of
// RetentionDays. The policy is written to disk before SetRetention
// returns, so it survives a restart. It returns ErrGroupNotFound if there
// is no such group; setting the same policy again is harmless.
func (s *Store) SetRetention(name string, days int) error {
	if days != 0 && !slices.Contains(RetentionDays, days) {
		return invalidRetention(strconv.Itoa(days))
	}
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	g, err := s.lookup(name)
	if err != nil {
		return err
	}
	g.mu.Lock()
	deleted := g.deleted
	if !deleted {
		g.retention = days
	}
	g.mu.Unlock()
	if deleted {
		return ErrGroupNotFound
	}
	if err := writeGroupMeta(g, days); err != nil {
		return fmt.Errorf("set retention: %w", err)
	}
	g.onDisk = true
	return nil
}

// invalidRetention is CloudWatch's answer to a retention it does not offer.
func invalidRetention(value string) error {
	vals := make([]string, len(RetentionDays))
	for i, d := range RetentionDays {
		vals[i] = strconv.Itoa(d)
	}
	return kindInvalidParameter.errorf("1 validation error detected: Value '%s' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [%s]", value, strings.Join(vals, ", "))
}

// retentionCutoff is the oldest timestamp (ms) g still keeps, or 0 when
// its events never expire. Caller holds g.mu.
func (s *Store) retentionCutoff(g *group) int64 {
	if g.retention == 0 {
		return 0
	}
	return s.now().UnixMilli() - int64(g.retention)*msPerDay
}

// sweepExpired deletes the segments whose every event is past its group's
// retention. Reads already hide those events; this gives the space back.
func (s *Store) sweepExpired() error {
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	var victims []*segment
	for _, g := range s.snapshotGroups() {
		g.mu.Lock()
		if cutoff := s.retentionCutoff(g); cutoff > 0 && !g.deleted {
			n := len(g.segs)
			keep := slices.DeleteFunc(slices.Clone(g.segs), func(sg *segment) bool {
				if sg.maxTs < cutoff {
					victims = append(victims, sg)
					return true
				}
				return false
			})
			if len(keep) < n {
				// The append target may be gone: start a fresh segment.
				if len(keep) == 0 || keep[len(keep)-1] != g.segs[n-1] {
					g.sealed = true
				}
				g.segs = keep
				g.pruneStreams()
			}
		}
		g.mu.Unlock()
	}
	return removeSegments(victims)
}

// removeSegments deletes the files of segments already unlinked from
// their group. Caller holds Store.ioMu.
func removeSegments(victims []*segment) error {
	var errs []error
	for _, sg := range victims {
		if err := os.Remove(sg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove segment: %w", err))
		}
	}
	return errors.Join(errs...)
}

// snapshotGroups returns every group at this moment.
func (s *Store) snapshotGroups() []*group {
	s.mu.RLock()
	defer s.mu.RUnlock()
	gs := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		gs = append(gs, g)
	}
	return gs
}
