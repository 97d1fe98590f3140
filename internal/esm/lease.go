package esm

import (
	"context"
	"errors"
	"time"

	"gust/internal/natsd"
)

// Stream mappings must be read by one node at a time, or per-key order and
// checkpoints would be shared by racing readers. A node runs a stream
// mapping only while it holds the mapping's lease: a key in the bucket
// naming the node and an expiry, renewed well before it runs out. A node
// that dies loses its leases after leaseTTL; node clocks are assumed to
// agree to well within that.
const (
	leasePrefix = "l."
	leaseTTL    = 15 * time.Second
	leaseRenew  = 5 * time.Second
)

type leaseRecord struct {
	Node    string    `json:"node"`
	Expires time.Time `json:"expires"`
}

var errLeaseHeld = errors.New("lease held by another node")

// tryLease takes or renews the lease of mapping uuid for this node; false
// when another node holds it.
func (s *Service) tryLease(ctx context.Context, uuid string) (bool, error) {
	now := time.Now()
	_, err := natsd.UpdateJSON(ctx, s.kv, leasePrefix+uuid, func(cur *leaseRecord) (*leaseRecord, error) {
		if cur != nil && cur.Node != s.nodeID() && now.Before(cur.Expires) {
			return nil, errLeaseHeld
		}
		return &leaseRecord{Node: s.nodeID(), Expires: now.Add(leaseTTL)}, nil
	})
	if errors.Is(err, errLeaseHeld) {
		return false, nil
	}
	return err == nil, err
}

// holdLease waits until this node holds the lease of mapping uuid and
// keeps renewing it. The context it returns ends when the lease is lost
// or ctx ends; release gives the lease up.
func (s *Service) holdLease(ctx context.Context, uuid string) (context.Context, func(), error) {
	for {
		ok, err := s.tryLease(ctx, uuid)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(leaseRenew):
		}
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(leaseRenew)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				if ok, err := s.tryLease(lctx, uuid); !ok {
					if lctx.Err() == nil {
						s.log.Warn("lost the lease of a stream mapping", "uuid", uuid, "err", err)
					}
					cancel()
					return
				}
			}
		}
	}()
	release := func() {
		cancel()
		<-done
		_, _ = natsd.UpdateJSON(context.Background(), s.kv, leasePrefix+uuid, func(cur *leaseRecord) (*leaseRecord, error) {
			if cur == nil || cur.Node != s.nodeID() {
				return nil, natsd.ErrUnchanged
			}
			return nil, nil
		})
	}
	return lctx, release, nil
}

// nodeID names this node in leases and consumer names.
func (s *Service) nodeID() string { return s.opts.NodeID }
