package logs

// enforceTotal keeps all groups together within MaxBytesTotal by evicting
// the oldest segment of the largest group, again and again, until they fit.
// Taking from the largest group means a function flooding its log pays for
// the flood itself: a quiet group is only touched once every group is as
// small as it is. A group's newest segment is never evicted here (the
// per-group bound and the pending buffer already bound it).
func (s *Store) enforceTotal() error {
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	gs := s.snapshotGroups()
	sizes := make([]int64, len(gs))
	var total int64
	for i, g := range gs {
		g.mu.Lock()
		sizes[i] = g.pendingBytes
		for _, sg := range g.segs {
			sizes[i] += sg.bytes
		}
		g.mu.Unlock()
		total += sizes[i]
	}
	var victims []*segment
	for total > s.maxTotal {
		// The largest group that still has a segment to give.
		best := -1
		for i, g := range gs {
			if best >= 0 && sizes[i] <= sizes[best] {
				continue
			}
			g.mu.Lock()
			if len(g.segs) > 1 && !g.deleted {
				best = i
			}
			g.mu.Unlock()
		}
		if best < 0 {
			break
		}
		g := gs[best]
		g.mu.Lock()
		if len(g.segs) > 1 {
			sg := g.segs[0]
			g.segs = append([]*segment(nil), g.segs[1:]...)
			g.pruneStreams()
			victims = append(victims, sg)
			sizes[best] -= sg.bytes
			total -= sg.bytes
		}
		g.mu.Unlock()
	}
	return removeSegments(victims)
}
