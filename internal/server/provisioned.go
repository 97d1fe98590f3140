package server

import (
	"context"
	"errors"

	"gust/internal/lambda"
	"gust/internal/store"
)

// Provisioned concurrency reaches this node's pool three ways: the API
// applies its own Put and Delete at once; the store watch re-applies a
// function's stored configs whenever anything of it changes (a config
// written on another node, an alias moved to another version, a version or
// alias deleted with its config); and Start applies every stored config.
// Re-applying an unchanged config changes nothing, so the watch may repeat
// what the API did.

// applyProvisioned makes this node's provisioned environments of the named
// function match its stored configs. A store it cannot read leaves them as
// they are (logged); the next change of the function tries again.
func (s *Server) applyProvisioned(ctx context.Context, name string) {
	cfgs, err := s.store.ListProvisionedConcurrency(ctx, name)
	if err != nil {
		if ctx.Err() == nil { // else the server is stopping
			s.logger.Warn("apply provisioned concurrency", "function", name, "err", err)
		}
		return
	}
	s.applyProvisionedConfigs(ctx, name, cfgs)
}

// applyAllProvisioned applies every stored config, for a node that starts.
func (s *Server) applyAllProvisioned(ctx context.Context) {
	all, err := s.store.ListAllProvisionedConcurrency(ctx)
	if err != nil {
		s.logger.Warn("apply provisioned concurrency at start", "err", err)
		return
	}
	byFunction := make(map[string][]store.ProvisionedConcurrency)
	for _, c := range all {
		byFunction[c.Function] = append(byFunction[c.Function], c)
	}
	for name, cfgs := range byFunction {
		s.applyProvisionedConfigs(ctx, name, cfgs)
	}
}

// applyProvisionedConfigs sets each of cfgs (configs of the named
// function) on the pool, with the version its qualifier names now, and
// clears the pool's other configs of the function. A config whose version
// or alias is gone, or whose alias now routes to $LATEST, counts as
// removed.
func (s *Server) applyProvisionedConfigs(ctx context.Context, name string, cfgs []store.ProvisionedConcurrency) {
	keep := make(map[string]bool, len(cfgs))
	for _, c := range cfgs {
		fn, err := s.provisionedVersion(ctx, name, c.Qualifier)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			if ctx.Err() == nil {
				s.logger.Warn("apply provisioned concurrency", "function", name, "qualifier", c.Qualifier, "err", err)
			}
			keep[c.Qualifier] = true // unknown: leave it as it is
			continue
		case fn.Version == lambda.LatestVersion:
			continue
		}
		keep[c.Qualifier] = true
		s.pool.SetProvisioned(fn, c.Qualifier, c.Requested)
	}
	for _, q := range s.pool.Provisioned(name) {
		if !keep[q] {
			s.pool.ClearProvisioned(name, q)
		}
	}
}

// provisionedVersion returns the function version a qualifier names now:
// the version itself, or an alias's primary version. ErrNotFound if
// either is gone.
func (s *Server) provisionedVersion(ctx context.Context, name, qualifier string) (*lambda.Function, error) {
	version := qualifier
	if !lambda.IsVersion(qualifier) {
		al, err := s.store.GetAlias(ctx, name, qualifier)
		if err != nil {
			return nil, err
		}
		version = al.FunctionVersion
	}
	return s.store.GetFunction(ctx, name, version)
}
