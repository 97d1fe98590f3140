package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// runFlusher is the store's one goroutine.
func (s *Store) runFlusher(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	var lastErr string
	lastSweep := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		err := errors.Join(s.flushAll(), s.enforceTotal())
		if time.Since(lastSweep) >= sweepInterval {
			lastSweep = time.Now()
			err = errors.Join(err, s.sweepExpired())
		}
		// Log a failure once, not every 200 ms while the disk stays full.
		switch {
		case err != nil && err.Error() != lastErr:
			lastErr = err.Error()
			s.log.Error("writing logs failed; events dropped", "err", err, "dropped_total", s.Dropped())
		case err == nil && lastErr != "":
			lastErr = ""
			s.log.Info("writing logs recovered")
		}
	}
}

// flushAll writes every group's pending events.
func (s *Store) flushAll() error {
	s.mu.RLock()
	gs := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		gs = append(gs, g)
	}
	s.mu.RUnlock()
	var errs []error
	for _, g := range gs {
		if err := s.flushGroup(g); err != nil {
			errs = append(errs, fmt.Errorf("flush %s: %w", g.name, err))
		}
	}
	return errors.Join(errs...)
}

// flushGroup moves the group's pending events to disk, then evicts the
// oldest segments past the group's disk budget.
func (s *Store) flushGroup(g *group) error {
	s.ioMu.Lock()
	defer s.ioMu.Unlock()

	g.mu.Lock()
	if g.deleted || len(g.pending) == 0 {
		if g.prune && !g.deleted {
			g.pruneStreams()
		}
		g.mu.Unlock()
		return nil
	}
	batch := g.pending
	// Size the next buffer like this one so a steady writer does not
	// regrow it from nothing every interval.
	g.flushing, g.pending, g.pendingBytes = batch, make([]record, 0, len(batch)), 0
	var cur *segment
	if n := len(g.segs); n > 0 && !g.sealed {
		cur = g.segs[n-1]
	}
	nextID := g.nextSegID
	retention := g.retention
	g.mu.Unlock()

	var err error
	if !g.onDisk {
		if err = writeGroupMeta(g, retention); err == nil {
			g.onDisk = true
		}
	}
	var written []*segment
	var n int
	if err == nil {
		written, n, err = s.writeBatch(g.dir, cur, &nextID, batch)
	}

	g.mu.Lock()
	g.flushing = nil
	if len(written) > 0 {
		if cur != nil && written[0].id == cur.id {
			g.segs[len(g.segs)-1] = written[0]
			written = written[1:]
		}
		g.segs = append(g.segs, written...)
	}
	g.nextSegID = nextID
	// After a failure the last file may end in a torn line: never append
	// to it again, so recorded sizes stay on line boundaries.
	g.sealed = err != nil
	if lost := len(batch) - n; lost > 0 {
		s.dropped.Add(int64(lost))
		g.prune = true
	}
	victims := s.evict(g)
	if len(victims) > 0 || g.prune {
		g.pruneStreams()
	}
	g.mu.Unlock()

	for _, sg := range victims {
		if rerr := os.Remove(sg.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("evict segment: %w", rerr))
		}
	}
	return err
}

// writeBatch appends batch to cur (nil: start a new segment), rolling to new
// segments of about segmentSize. It returns the segments it wrote, in order,
// each a new *segment (cur is never modified), and how many records of batch
// are safely on disk.
func (s *Store) writeBatch(dir string, cur *segment, nextID *uint64, batch []record) ([]*segment, int, error) {
	var (
		out     []*segment
		buf     bytes.Buffer
		line    bytes.Buffer
		seg     *segment // being filled; buf holds its unwritten bytes
		inBuf   int      // records in buf
		written int      // records on disk
	)
	enc := json.NewEncoder(&line)
	enc.SetEscapeHTML(false)
	commit := func() error {
		if seg == nil || buf.Len() == 0 {
			return nil
		}
		f, err := os.OpenFile(seg.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("write segment: %w", err)
		}
		_, werr := f.Write(buf.Bytes())
		cerr := f.Close()
		if err := errors.Join(werr, cerr); err != nil {
			return fmt.Errorf("write segment: %w", err)
		}
		out = append(out, seg)
		written += inBuf
		buf.Reset()
		inBuf = 0
		return nil
	}
	if cur != nil {
		seg = cur.clone()
	}
	for i := range batch {
		r := &batch[i]
		line.Reset()
		if err := enc.Encode(diskRecord{Stream: r.stream, Seq: r.seq, Timestamp: r.Timestamp, Ingestion: r.Ingestion, Message: r.Message}); err != nil {
			return out, written, fmt.Errorf("encode event: %w", err)
		}
		n := int64(line.Len())
		if seg == nil || (seg.bytes > 0 && seg.bytes+n > s.segmentSize) {
			if err := commit(); err != nil {
				return out, written, err
			}
			id := *nextID
			*nextID++
			seg = &segment{id: id, path: segmentPath(dir, id), streams: make(map[string]span)}
		}
		buf.Write(line.Bytes())
		inBuf++
		seg.add(r, n)
	}
	if err := commit(); err != nil {
		return out, written, err
	}
	return out, written, nil
}

// evict unlinks the oldest segments from g until its disk use fits the
// budget, always keeping the newest segment, and returns them for the caller
// to delete. Caller holds g.mu (or owns g exclusively).
func (s *Store) evict(g *group) []*segment {
	var total int64
	for _, sg := range g.segs {
		total += sg.bytes
	}
	i := 0
	for total > s.diskBudget && len(g.segs)-i > 1 {
		total -= g.segs[i].bytes
		i++
	}
	if i == 0 {
		return nil
	}
	victims := append([]*segment(nil), g.segs[:i]...)
	g.segs = append([]*segment(nil), g.segs[i:]...)
	return victims
}

// pruneStreams forgets streams with no events left on disk or in memory.
// Caller holds g.mu.
func (g *group) pruneStreams() {
	g.prune = false
	live := make(map[string]bool, len(g.streams))
	for _, sg := range g.segs {
		for name := range sg.streams {
			live[name] = true
		}
	}
	for _, recs := range [][]record{g.flushing, g.pending} {
		for i := range recs {
			live[recs[i].stream] = true
		}
	}
	for name := range g.streams {
		if !live[name] {
			delete(g.streams, name)
		}
	}
}
