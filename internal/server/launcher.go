package server

import (
	"context"
	"fmt"
	"time"

	"gust/internal/codecache"
	"gust/internal/envpool"
	"gust/internal/lambda"
	"gust/internal/logs"
	"gust/internal/runtimes"
	"gust/internal/store"
)

// launcher prepares an environment's code and command: it unpacks the
// function's zip (once per node) and asks the runtime table how to start
// the runtime.
type launcher struct {
	store    *store.Store
	code     *codecache.Cache
	runtimes *runtimes.Table
}

var _ envpool.Launcher = (*launcher)(nil)

func (l *launcher) Prepare(ctx context.Context, fn *lambda.Function) (envpool.LaunchSpec, error) {
	dir, err := l.code.Dir(ctx, fn.CodeSha256, func(ctx context.Context) ([]byte, error) {
		return l.store.GetCode(ctx, fn.CodeSha256)
	})
	if err != nil {
		return envpool.LaunchSpec{}, fmt.Errorf("prepare code: %w", err)
	}
	argv, err := l.runtimes.Command(fn.Runtime, dir)
	if err != nil {
		return envpool.LaunchSpec{}, err
	}
	return envpool.LaunchSpec{Argv: argv, Dir: dir, RuntimeDir: l.runtimes.RuntimeDir(), Env: l.runtimes.Env(fn.Runtime)}, nil
}

// logWriter adapts the log store to the pool's line-by-line writer.
type logWriter struct{ s *logs.Store }

func (w logWriter) WriteLog(group, stream string, at time.Time, line string) {
	w.s.Append(group, stream, logs.Event{Timestamp: at.UnixMilli(), Message: line})
}
