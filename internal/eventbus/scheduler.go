package eventbus

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// lateTolerance bounds how late a tick may still fire: a node that gets to
// a tick more than this after its time (it was suspended, or busy) skips
// it rather than firing it late.
const lateTolerance = time.Minute

// deliverTimeout bounds the claim and delivery of one tick.
const deliverTimeout = 10 * time.Second

// scheduler fires the enabled schedule rules at their ticks. Every node
// runs one; a tick is fired by the node that claims it first (a KV Create
// of tick.<bus>.<rule>.<unix> in the ticks bucket), so it fires once
// however many nodes share the bucket, and not again after a restart.
type scheduler struct {
	b       *Bus
	started time.Time
	plans   map[ruleKey]*plan
}

// plan is the next tick of one schedule rule.
type plan struct {
	rule   *cachedRule
	expr   string    // the expression and anchor next was computed from
	anchor time.Time //
	next   time.Time // zero: the schedule has no more ticks
}

func newScheduler(b *Bus) *scheduler {
	return &scheduler{b: b, plans: make(map[ruleKey]*plan)}
}

// run fires ticks until ctx ends. It sleeps on the clock until the
// earliest next tick, and wakes early whenever a rule changes (on any
// node: the bucket watch signals it), so a new rule's first tick is
// planned at once.
func (s *scheduler) run(ctx context.Context) {
	clock := s.b.clock
	s.started = clock.Now()
	for {
		now := clock.Now()
		s.reconcile(now)
		s.fireDue(ctx, now)
		var (
			wake    <-chan time.Time
			release = func() {}
		)
		if deadline, ok := s.earliest(); ok {
			wake, release = clock.Timer(deadline)
		}
		select {
		case <-ctx.Done():
			release()
			return
		case <-s.b.cache.changed:
		case <-wake:
		}
		release()
	}
}

// reconcile brings the plans in line with the enabled schedule rules:
// rules gone or disabled lose their plan, new or changed ones get their
// first tick. Ticks before the scheduler started are never planned: they
// were missed, and are not fired late.
func (s *scheduler) reconcile(now time.Time) {
	rules := s.b.cache.scheduled()
	for k := range s.plans {
		if rules[k] == nil {
			delete(s.plans, k)
		}
	}
	for k, r := range rules {
		p := s.plans[k]
		if p != nil && p.expr == r.rec.ScheduleExpression && p.anchor.Equal(r.rec.Anchor) {
			p.rule = r
			continue
		}
		// At start, a tick at the very instant counts (a restart at a
		// tick another run fired finds it claimed); later, a rule's first
		// tick is strictly after it was planned, and after its anchor.
		after := now
		if p == nil && now.Equal(s.started) {
			after = now.Add(-time.Nanosecond)
		}
		if after.Before(r.rec.Anchor) {
			after = r.rec.Anchor
		}
		next, ok := r.schedule.Next(after, r.rec.Anchor)
		if !ok {
			next = time.Time{}
		}
		s.plans[k] = &plan{rule: r, expr: r.rec.ScheduleExpression, anchor: r.rec.Anchor, next: next}
	}
}

// fireDue fires every planned tick that is due and plans the next one.
func (s *scheduler) fireDue(ctx context.Context, now time.Time) {
	for _, p := range s.plans {
		for !p.next.IsZero() && !p.next.After(now) {
			tick := p.next
			if now.Sub(tick) <= lateTolerance {
				s.fire(ctx, p.rule, tick)
			} else {
				s.b.log.Debug("schedule tick missed", "rule", p.rule.rec.Name, "tick", tick)
			}
			next, ok := p.rule.schedule.Next(tick, p.anchor)
			if ok && now.Sub(next) > lateTolerance {
				// A backlog of missed ticks: skip to the recent ones.
				next, ok = p.rule.schedule.Next(now.Add(-lateTolerance), p.anchor)
			}
			if !ok {
				next = time.Time{}
			}
			p.next = next
		}
	}
}

// earliest is the soonest planned tick.
func (s *scheduler) earliest() (time.Time, bool) {
	var first time.Time
	for _, p := range s.plans {
		if !p.next.IsZero() && (first.IsZero() || p.next.Before(first)) {
			first = p.next
		}
	}
	return first, !first.IsZero()
}

// fire claims one tick of a rule and, if this node won it, delivers the
// Scheduled Event to the rule's targets.
func (s *scheduler) fire(ctx context.Context, r *cachedRule, tick time.Time) {
	b := s.b
	// A claimed tick is delivered even if Close comes meanwhile (bounded):
	// no other node will fire it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliverTimeout)
	defer cancel()
	id := uuid.NewString()
	_, err := b.ticks.Create(ctx, tickKey(r.key, tick.Unix()), []byte(id))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return // another node fired it, or this one before a restart
	}
	if err != nil {
		b.log.Error("schedule tick not fired: cannot claim it", "rule", r.rec.Name, "tick", tick, "err", err)
		return
	}
	// The claim winner may have heard of the rule's latest change (its
	// targets, say) later than another node: deliver what the bucket
	// holds now.
	rec, rev, err := b.getRule(ctx, r.key)
	if err != nil {
		b.log.Error("schedule tick not fired: cannot read its rule", "rule", r.rec.Name, "tick", tick, "err", err)
		return
	}
	if rec == nil || !rec.enabled() || rec.ScheduleExpression != r.rec.ScheduleExpression {
		return // deleted, disabled or changed since it was planned
	}
	if rev != r.rev {
		r = &cachedRule{key: r.key, rec: rec, rev: rev, schedule: r.schedule}
	}
	arn := b.ruleARN(r.key)
	ev := envelope{
		Version:    "0",
		ID:         id,
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		Account:    b.id.Account,
		Time:       eventTime(tick),
		Region:     b.id.Region,
		Resources:  []string{arn},
		Detail:     []byte("{}"),
	}
	event, err := ev.encode()
	if err != nil {
		b.log.Error("schedule tick not fired", "rule", r.rec.Name, "tick", tick, "err", err)
		return
	}
	if err := b.deliver(ctx, r, event, id); err != nil {
		b.log.Error("scheduled event not delivered", "rule", r.rec.Name, "tick", tick, "event_id", id, "err", err)
	}
}
