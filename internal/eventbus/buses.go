package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// busOutput is a bus as DescribeEventBus and ListEventBuses show it.
type busOutput struct {
	Name             string
	Arn              string
	Description      string        `json:",omitempty"`
	CreationTime     *epochSeconds `json:",omitempty"`
	LastModifiedTime *epochSeconds `json:",omitempty"`
}

func (b *Bus) busOutput(name string, rec *busRecord) busOutput {
	out := busOutput{Name: name, Arn: b.busARN(name)}
	if rec != nil {
		created, modified := epochSeconds(rec.CreationTime), epochSeconds(rec.LastModifiedTime)
		out.Description, out.CreationTime, out.LastModifiedTime = rec.Description, &created, &modified
	}
	return out
}

func (b *Bus) createEventBus(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Name            *string
		Description     *string
		EventSourceName *string
	}
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	if in.Name == nil {
		return nil, notNull("name")
	}
	name := *in.Name
	if !busNamePattern.MatchString(name) {
		return nil, patternError(name, "name", `[/\.\-_A-Za-z0-9]+`)
	}
	if in.EventSourceName != nil {
		return nil, kindResourceNotFound.Errorf("Event source %s does not exist.", *in.EventSourceName)
	}
	if strings.Contains(name, "/") {
		return nil, kindValidation.Errorf("Event bus name must not contain '/'.")
	}
	if len(deref(in.Description)) > maxDescription {
		return nil, lengthError(deref(in.Description), "description", maxDescription)
	}
	if name == DefaultBus {
		return nil, kindResourceAlreadyExists.Errorf("Event bus %s already exists.", name)
	}
	if len(b.cache.busList()) >= maxCustomBuses {
		return nil, kindLimitExceeded.Errorf(msgLimitExceeded)
	}
	now := b.clock.Now().UTC()
	rec := busRecord{Name: name, Description: deref(in.Description), CreationTime: now, LastModifiedTime: now}
	value, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode bus %s: %w", name, err)
	}
	rev, err := b.kv.Create(ctx, busKey(name), value)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, kindResourceAlreadyExists.Errorf("Event bus %s already exists.", name)
	}
	if err != nil {
		return nil, fmt.Errorf("create bus %s: %w", name, err)
	}
	b.cache.apply(busKey(name), rev, false, value)
	return struct {
		EventBusArn string
		Description string `json:",omitempty"`
	}{b.busARN(name), rec.Description}, nil
}

func (b *Bus) describeEventBus(ctx context.Context, body []byte) (any, error) {
	var in struct{ Name *string }
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	name, err := b.resolveBus(in.Name, "name")
	if err != nil {
		return nil, err
	}
	if name == DefaultBus {
		return b.busOutput(name, nil), nil
	}
	e, err := b.kv.Get(ctx, busKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, busNotFound(name)
	}
	if err != nil {
		return nil, fmt.Errorf("read bus %s: %w", name, err)
	}
	rec := new(busRecord)
	if err := json.Unmarshal(e.Value(), rec); err != nil {
		return nil, fmt.Errorf("decode bus %s: %w", name, err)
	}
	return b.busOutput(name, rec), nil
}

// deleteEventBus deletes a custom bus and the rules on it (EventBridge
// deletes a bus's rules with it). Deleting a bus that does not exist
// succeeds.
func (b *Bus) deleteEventBus(ctx context.Context, body []byte) (any, error) {
	var in struct{ Name *string }
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	if in.Name == nil {
		return nil, notNull("name")
	}
	name, err := b.resolveBus(in.Name, "name")
	if err != nil {
		return nil, err
	}
	if name == DefaultBus {
		return nil, kindValidation.Errorf("Cannot delete event bus default.")
	}
	for _, r := range b.cache.rulesOn(name) {
		if _, err := b.updateRule(ctx, r.key, func(*ruleRecord) (*ruleRecord, error) { return nil, nil }); err != nil {
			return nil, err
		}
	}
	e, err := b.kv.Get(ctx, busKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return empty{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read bus %s: %w", name, err)
	}
	if err := b.kv.Delete(ctx, busKey(name)); err != nil {
		return nil, fmt.Errorf("delete bus %s: %w", name, err)
	}
	b.cache.forget(busKey(name), e.Revision())
	return empty{}, nil
}

func (b *Bus) listEventBuses(_ context.Context, body []byte) (any, error) {
	var in struct {
		NamePrefix *string
		NextToken  *string
		Limit      *int32
	}
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	prefix := deref(in.NamePrefix)
	all := []busOutput{}
	if strings.HasPrefix(DefaultBus, prefix) {
		all = append(all, b.busOutput(DefaultBus, nil))
	}
	for _, rec := range b.cache.busList() {
		if strings.HasPrefix(rec.Name, prefix) {
			all = append(all, b.busOutput(rec.Name, rec))
		}
	}
	// Sorted by name, the default bus in its place.
	slices.SortFunc(all, func(x, y busOutput) int { return strings.Compare(x.Name, y.Name) })
	buses, next, err := page(all, func(o busOutput) string { return o.Name }, deref(in.NextToken), in.Limit)
	if err != nil {
		return nil, err
	}
	return struct {
		EventBuses []busOutput
		NextToken  string `json:",omitempty"`
	}{buses, next}, nil
}
