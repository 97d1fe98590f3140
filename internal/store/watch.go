package store

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Watch calls fn(name) each time any stored state of a function changes:
// $LATEST, a published version, its version counter, or its deletion. It
// reports only changes made after Watch returns, from any node, in commit
// order, one call at a time; fn must not block for long. The bucket keeps
// one value per key, so quick changes to one key may be reported as one
// call: fn should re-read the function's state rather than count calls. Watch starts one
// goroutine, which stops when ctx is done, when the Store is closed, or when
// the NATS connection closes. It returns ErrClosed after Close.
func (s *Store) Watch(ctx context.Context, fn func(name string)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	// UpdatesOnly would start at whatever the stream holds when the server
	// gets round to creating the consumer, which can be after Watch returns;
	// starting past the last sequence read here makes "after Watch returns"
	// exact.
	status, err := s.kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("watch functions: %w", err)
	}
	bucket, ok := status.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return fmt.Errorf("watch functions: unexpected bucket status %T", status)
	}
	next := bucket.StreamInfo().State.LastSeq + 1
	w, err := s.kv.Watch(ctx, allFunctionsFilter(), jetstream.ResumeFromRevision(next))
	if err != nil {
		return fmt.Errorf("watch functions: %w", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer stopWatcher(w)
		for {
			select {
			case e, ok := <-w.Updates():
				if !ok {
					if ctx.Err() == nil && s.ctx.Err() == nil {
						s.log.Warn("watch functions: watcher closed")
					}
					return
				}
				if e != nil {
					fn(keyFunctionName(e.Key()))
				}
			case <-ctx.Done():
				return
			case <-s.ctx.Done():
				return
			}
		}
	}()
	return nil
}
