package esm

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"gust/internal/lambda"
	"gust/internal/store"
)

// The event source mapping operations of the Lambda API. Each writes the
// mapping with compare-and-set and leaves the rest to the manager, which
// watches the bucket: it starts and stops pollers and moves a transitional
// State (Creating, Enabling, Updating, Disabling) on to Enabled or
// Disabled, and removes a Deleting mapping. Errors are *lambda.Error in
// Lambda's words.

// CreateEventSourceMapping checks in, resolves its function and source and
// stores a new mapping in state Creating, with the defaults of its source
// kind filled in. A second mapping of one source and function is a
// ResourceConflictException naming the first.
func (s *Service) CreateEventSourceMapping(ctx context.Context, in *lambda.EventSourceMappingInput) (*lambda.EventSourceMapping, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if in.FunctionName == nil {
		return nil, lambda.ValidationFailed(lambda.Violation{Value: "null", Member: "functionName", Constraint: "Member must not be null"})
	}
	if in.EventSourceArn == nil || *in.EventSourceArn == "" {
		return nil, lambda.KindInvalidParameterValue.Errorf("Unrecognized event source.")
	}
	kind, err := s.sourceKind(ctx, *in.EventSourceArn)
	if err != nil {
		return nil, err
	}
	m := &lambda.EventSourceMapping{EventSourceArn: *in.EventSourceArn}
	if err := in.ApplyTo(m, kind, true); err != nil {
		return nil, err
	}
	if err := s.checkMappingTargets(m); err != nil {
		return nil, err
	}
	fn, err := s.resolveFunction(ctx, *in.FunctionName)
	if err != nil {
		return nil, err
	}
	id := uuid.NewString()
	m.UUID = id
	m.EventSourceMappingArn = s.id.EventSourceMappingARN(id)
	m.FunctionArn = fn.arn
	m.State = lambda.ESMCreating
	m.StateTransitionReason = reasonFor(kind)
	if kind == lambda.ESMSourceStream {
		m.LastProcessingResult = lambda.ESMNoRecordsProcessed // SQS and Amazon MQ mappings report none
	}
	m.LastModified = lambda.EpochSeconds{Time: time.Now().UTC()}
	if err := s.checkDuplicate(ctx, m, fn.name); err != nil {
		return nil, err
	}
	rec := &mappingRecord{Mapping: *m, Enabled: in.Enabled == nil || *in.Enabled, Tags: in.Tags}
	stored, err := s.updateMapping(ctx, id, func(cur *mappingRecord) (*mappingRecord, error) {
		if cur != nil { // a random UUID taken: never in practice
			return nil, lambda.KindResourceConflict.Errorf("An event source mapping with UUID %s already exists.", id)
		}
		return rec, nil
	})
	if err != nil {
		return nil, fmt.Errorf("create event source mapping: %w", err)
	}
	return &stored.Mapping, nil
}

// GetEventSourceMapping returns one mapping, or a ResourceNotFoundException.
func (s *Service) GetEventSourceMapping(ctx context.Context, id string) (*lambda.EventSourceMapping, error) {
	if !validMappingID(id) {
		return nil, lambda.EventSourceMappingNotFound()
	}
	rec, err := s.getMapping(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, lambda.EventSourceMappingNotFound()
	}
	return &rec.Mapping, nil
}

// UpdateEventSourceMapping changes the settings in names (not the source,
// starting position, queues or tags, which Lambda does not update). The
// mapping goes to Enabling or Disabling when the update only flips
// Enabled, else to Updating. A mapping between states is a
// ResourceInUseException, as in Lambda.
func (s *Service) UpdateEventSourceMapping(ctx context.Context, id string, in *lambda.EventSourceMappingInput) (*lambda.EventSourceMapping, error) {
	if !validMappingID(id) {
		return nil, lambda.EventSourceMappingNotFound()
	}
	upd := *in
	upd.EventSourceArn, upd.StartingPosition, upd.StartingPositionTimestamp, upd.Queues, upd.Tags = nil, nil, nil, nil, nil
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	first, err := s.GetEventSourceMapping(ctx, id)
	if err != nil {
		return nil, err
	}
	kind, err := s.sourceKind(ctx, first.EventSourceArn)
	if err != nil {
		return nil, err
	}
	var fn resolvedFunction
	if upd.FunctionName != nil {
		if fn, err = s.resolveFunction(ctx, *upd.FunctionName); err != nil {
			return nil, err
		}
		moved := *first
		moved.FunctionArn = fn.arn
		if err := s.checkDuplicate(ctx, &moved, fn.name); err != nil {
			return nil, err
		}
	}
	rec, err := s.updateMapping(ctx, id, func(cur *mappingRecord) (*mappingRecord, error) {
		if cur == nil {
			return nil, lambda.EventSourceMappingNotFound()
		}
		if st := cur.Mapping.State; st != lambda.ESMEnabled && st != lambda.ESMDisabled {
			return nil, lambda.EventSourceMappingInUse("update")
		}
		m := cur.Mapping
		if err := upd.ApplyTo(&m, kind, false); err != nil {
			return nil, err
		}
		if err := s.checkMappingTargets(&m); err != nil {
			return nil, err
		}
		if fn.arn != "" {
			m.FunctionArn = fn.arn
		}
		m.State = lambda.ESMUpdating
		if onlyFlipsEnabled(&upd, cur.Enabled) {
			m.State = lambda.ESMDisabling
			if *upd.Enabled {
				m.State = lambda.ESMEnabling
			}
		}
		if upd.Enabled != nil {
			cur.Enabled = *upd.Enabled
		}
		m.StateTransitionReason = reasonFor(kind)
		m.LastModified = lambda.EpochSeconds{Time: time.Now().UTC()}
		cur.Mapping = m
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	return &rec.Mapping, nil
}

// DeleteEventSourceMapping puts a mapping in state Deleting and returns
// it; the manager stops its pollers and removes it. A mapping already
// being deleted is a ResourceInUseException.
func (s *Service) DeleteEventSourceMapping(ctx context.Context, id string) (*lambda.EventSourceMapping, error) {
	if !validMappingID(id) {
		return nil, lambda.EventSourceMappingNotFound()
	}
	rec, err := s.updateMapping(ctx, id, func(cur *mappingRecord) (*mappingRecord, error) {
		if cur == nil {
			return nil, lambda.EventSourceMappingNotFound()
		}
		if cur.Mapping.State == lambda.ESMDeleting {
			return nil, lambda.EventSourceMappingInUse("delete")
		}
		cur.Mapping.State = lambda.ESMDeleting
		cur.Mapping.StateTransitionReason = reasonFor(kindOfARN(cur.Mapping.EventSourceArn))
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	return &rec.Mapping, nil
}

// ListEventSourceMappings returns the mappings of a source, of a function,
// of both or (both "") all, by UUID. functionName takes every form
// FunctionName takes; a qualified one matches the mappings of that
// version or alias, an unqualified one those of the unqualified function.
func (s *Service) ListEventSourceMappings(ctx context.Context, eventSourceArn, functionName string) ([]*lambda.EventSourceMapping, error) {
	functionArn := ""
	if functionName != "" {
		ref, err := lambda.ParseFunctionRef(functionName)
		if err != nil {
			return nil, err
		}
		if !s.id.Owns(ref) {
			return nil, nil
		}
		functionArn = s.id.QualifiedARN(ref.Name, ref.Qualifier)
	}
	recs, err := s.listMappings(ctx)
	if err != nil {
		return nil, err
	}
	var out []*lambda.EventSourceMapping
	for _, rec := range recs {
		m := &rec.Mapping
		if (eventSourceArn == "" || m.EventSourceArn == eventSourceArn) && (functionArn == "" || m.FunctionArn == functionArn) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *lambda.EventSourceMapping) int { return strings.Compare(a.UUID, b.UUID) })
	return out, nil
}

// sourceKind names the kind of source an event source ARN names: an
// Amazon MQ ARN is an Amazon MQ source; an SQS or Kinesis ARN follows the
// source's semantics.
func (s *Service) sourceKind(ctx context.Context, arn string) (string, error) {
	src, err := s.sourceByARN(ctx, arn)
	if err != nil {
		return "", err
	}
	switch {
	case arn == src.MQARN(s.id):
		return lambda.ESMSourceMQ, nil
	case src.Semantics == SemanticsStream:
		return lambda.ESMSourceStream, nil
	}
	return lambda.ESMSourceQueue, nil
}

// kindOfARN is the kind an event source ARN's service implies.
func kindOfARN(arn string) string {
	switch {
	case strings.HasPrefix(arn, "arn:aws:kinesis:"), lambda.IsDynamoDBStreamARN(arn):
		return lambda.ESMSourceStream
	case strings.HasPrefix(arn, "arn:aws:mq:"):
		return lambda.ESMSourceMQ
	}
	return lambda.ESMSourceQueue
}

// reasonFor is the StateTransitionReason Lambda writes for a change a user
// made, which differs between SQS or Amazon MQ and stream mappings.
func reasonFor(kind string) string {
	if kind == lambda.ESMSourceStream {
		return lambda.ESMReasonUserAction
	}
	return lambda.ESMReasonUserInitiated
}

// checkMappingTargets checks what a mapping's settings point at: its
// filter patterns compile, and its on-failure queue is of this region and
// account.
func (s *Service) checkMappingTargets(m *lambda.EventSourceMapping) error {
	if _, err := compileFilters(m.FilterCriteria); err != nil {
		return err
	}
	if dc := m.DestinationConfig; dc != nil && dc.OnFailure != nil && dc.OnFailure.Destination != "" {
		d, err := lambda.ParseDestination(dc.OnFailure.Destination)
		if err != nil {
			return err // ApplyTo has refused it already
		}
		if d.Region != s.id.Region || d.Account != s.id.Account {
			return lambda.DestinationARNInvalid(dc.OnFailure.Destination,
				fmt.Sprintf("Gust delivers only to queues of its own region and account (%s, %s).", s.id.Region, s.id.Account))
		}
	}
	return nil
}

// resolvedFunction is the function a FunctionName names.
type resolvedFunction struct {
	name string // the function's name
	arn  string // its ARN, qualified when FunctionName named a qualifier
}

// resolveFunction checks that the function, version or alias a
// FunctionName names exists.
func (s *Service) resolveFunction(ctx context.Context, functionName string) (resolvedFunction, error) {
	ref, err := lambda.ParseFunctionRef(functionName)
	if err != nil {
		return resolvedFunction{}, err
	}
	if !s.id.Owns(ref) {
		return resolvedFunction{}, lambda.ESMFunctionDoesNotExist()
	}
	_, err = s.opts.Functions.GetFunction(ctx, ref.Name, lambda.LatestVersion)
	switch q := ref.Qualifier; {
	case err != nil:
	case q == "" || q == lambda.LatestVersion:
	case lambda.IsVersion(q):
		_, err = s.opts.Functions.GetFunction(ctx, ref.Name, q)
	default:
		_, err = s.opts.Functions.GetAlias(ctx, ref.Name, q)
	}
	if errors.Is(err, store.ErrNotFound) {
		return resolvedFunction{}, lambda.ESMFunctionDoesNotExist()
	}
	if err != nil {
		return resolvedFunction{}, fmt.Errorf("resolve function %s: %w", functionName, err)
	}
	return resolvedFunction{name: ref.Name, arn: s.id.QualifiedARN(ref.Name, ref.Qualifier)}, nil
}

// checkDuplicate refuses a mapping of a source and function that another
// mapping (not being deleted) already joins, in the words Lambda uses for
// the source's kind. Two creates racing may both pass, as the check and
// the write are not one transaction; the pollers of both then run.
func (s *Service) checkDuplicate(ctx context.Context, m *lambda.EventSourceMapping, fnName string) error {
	recs, err := s.listMappings(ctx)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		o := &rec.Mapping
		if o.UUID == m.UUID || o.State == lambda.ESMDeleting || o.EventSourceArn != m.EventSourceArn || o.FunctionArn != m.FunctionArn {
			continue
		}
		switch kindOfARN(m.EventSourceArn) {
		case lambda.ESMSourceQueue:
			return lambda.KindResourceConflict.Errorf(`An event source mapping with SQS arn (" %s ") and function (" %s ") already exists. Please update or delete the existing mapping with UUID %s`,
				m.EventSourceArn, fnName, o.UUID)
		case lambda.ESMSourceMQ:
			if !slices.Equal(o.Queues, m.Queues) {
				continue
			}
			return lambda.KindResourceConflict.Errorf(`An event source mapping with event source ("%s"), function ("%s"), queues ("%s") already exists. Please update or delete the existing mapping with UUID %s`,
				m.EventSourceArn, m.FunctionArn, strings.Join(m.Queues, ","), o.UUID)
		default:
			return lambda.KindResourceConflict.Errorf(`The event source arn (" %s ") and function (" %s ") provided mapping already exists. Please update or delete the existing mapping with UUID %s`,
				m.EventSourceArn, fnName, o.UUID)
		}
	}
	return nil
}

// onlyFlipsEnabled reports whether an update changes nothing but Enabled,
// to a value other than the current one.
func onlyFlipsEnabled(in *lambda.EventSourceMappingInput, enabled bool) bool {
	if in.Enabled == nil || *in.Enabled == enabled {
		return false
	}
	rest := *in
	rest.Enabled = nil
	return reflect.ValueOf(rest).IsZero()
}

// validMappingID reports whether id can be a mapping's UUID; anything else
// names no mapping (and could not be a bucket key).
func validMappingID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}
