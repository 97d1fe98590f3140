package esm

import (
	"context"
	"fmt"
	"strings"

	"gust/internal/lambda"
	"gust/internal/natsd"
)

// Key prefixes in the bucket.
const (
	mappingPrefix    = "m."
	sourcePrefix     = "s."
	checkpointPrefix = "c."
)

// mappingRecord is what the bucket holds for one mapping.
type mappingRecord struct {
	Mapping lambda.EventSourceMapping `json:"mapping"`
	// Enabled is the desired state; Mapping.State follows it as the
	// pollers start and stop.
	Enabled bool              `json:"enabled"`
	Tags    map[string]string `json:"tags,omitempty"`
}

func mappingKey(uuid string) string { return mappingPrefix + uuid }

// getMapping reads one mapping: nil if it does not exist.
func (s *Service) getMapping(ctx context.Context, uuid string) (*mappingRecord, error) {
	rec, _, err := natsd.GetJSON[mappingRecord](ctx, s.kv, mappingKey(uuid))
	return rec, err
}

// updateMapping changes one mapping with compare-and-set; see
// natsd.UpdateJSON for change's contract.
func (s *Service) updateMapping(ctx context.Context, uuid string, change func(cur *mappingRecord) (*mappingRecord, error)) (*mappingRecord, error) {
	return natsd.UpdateJSON(ctx, s.kv, mappingKey(uuid), change)
}

// listMappings reads every mapping.
func (s *Service) listMappings(ctx context.Context) ([]*mappingRecord, error) {
	keys, err := s.kv.ListKeysFiltered(ctx, mappingPrefix+">")
	if err != nil {
		return nil, fmt.Errorf("list mappings: %w", err)
	}
	var out []*mappingRecord
	for k := range keys.Keys() {
		rec, err := s.getMapping(ctx, strings.TrimPrefix(k, mappingPrefix))
		if err != nil {
			return nil, err
		}
		if rec != nil {
			out = append(out, rec)
		}
	}
	return out, nil
}

// watchMappings calls f with the UUID of every mapping that changes
// (created, updated or deleted) until ctx ends, starting with every
// mapping that exists.
func (s *Service) watchMappings(ctx context.Context, f func(uuid string)) error {
	w, err := s.kv.Watch(ctx, mappingPrefix+">")
	if err != nil {
		return fmt.Errorf("watch mappings: %w", err)
	}
	// Close waits for this goroutine (s.wg), so no reconcile runs after it.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue // end of the initial values
				}
				f(strings.TrimPrefix(e.Key(), mappingPrefix))
			}
		}
	}()
	return nil
}
