package store

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"gust/internal/lambda"
)

// errTagsUnchanged stops UpdateFunction without a write when a tag change
// leaves the tags as they were, so an idempotent call does not wake every
// node's Watch.
var errTagsUnchanged = errors.New("store: tags unchanged")

// UpdateTags applies mutate to a copy of the tags of the named function and
// stores the result on its $LATEST record with UpdateFunction's
// compare-and-set loop, so concurrent changes on any node are never lost
// and mutate may run several times. Tags belong to the function: published
// versions are left alone. RevisionID and LastModified are not touched, as
// tagging is not a code or configuration change and must not stop warm
// environments. If mutate returns an error nothing is written and the error
// is returned as is; a mutate that changes nothing writes nothing. It
// returns the tags as stored (an empty map, never nil, when there are none)
// and ErrNotFound if the function does not exist.
func (s *Store) UpdateTags(ctx context.Context, name string, mutate func(tags map[string]string) error) (map[string]string, error) {
	var (
		mutateErr error
		stored    map[string]string
	)
	_, err := s.UpdateFunction(ctx, name, func(fn *lambda.Function) error {
		tags := maps.Clone(fn.Tags)
		if tags == nil {
			tags = map[string]string{}
		}
		if mutateErr = mutate(tags); mutateErr != nil {
			return mutateErr
		}
		stored = tags
		if maps.Equal(tags, fn.Tags) {
			return errTagsUnchanged
		}
		fn.Tags = tags
		if len(tags) == 0 {
			fn.Tags = nil // stored without the member, as a function created untagged
		}
		return nil
	})
	switch {
	case errors.Is(err, errTagsUnchanged):
	case mutateErr != nil:
		return nil, mutateErr
	case err != nil:
		return nil, fmt.Errorf("update tags: %w", err)
	}
	return maps.Clone(stored), nil
}

// GetTags returns the tags of the named function, read from $LATEST: an
// empty map, never nil, when it has none. It returns ErrNotFound if the
// function does not exist.
func (s *Store) GetTags(ctx context.Context, name string) (map[string]string, error) {
	fn, err := s.GetFunction(ctx, name, lambda.LatestVersion)
	if err != nil {
		return nil, fmt.Errorf("get tags %s: %w", name, err)
	}
	if fn.Tags == nil {
		return map[string]string{}, nil
	}
	return fn.Tags, nil
}
