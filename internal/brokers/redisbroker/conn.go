package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxBlock bounds one blocking XREAD/XREADGROUP. The client does not
// abort a blocked read when ctx ends, so this is also how long Read and
// Receive may take to notice a cancelled ctx.
const maxBlock = 500 * time.Millisecond

// errClosed is returned by a Queue or Stream used after Close.
var errClosed = errors.New("redisbroker: closed")

// openClient connects to the Redis that rawURL names and checks that it
// answers. Neither the URL nor its password appear in the errors.
func openClient(ctx context.Context, rawURL string) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", withoutURL(err))
	}
	client := redis.NewClient(opt)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", opt.Addr, err)
	}
	return client, nil
}

// withoutURL drops the text of the URL that net/url puts in its errors,
// since it may hold a password.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// logger is the adapter's logger. The constructors' configs have no
// logger field, so the process default is used.
func logger() *slog.Logger {
	return slog.Default().With("component", "redisbroker")
}

// countLimit turns a caller's max into a COUNT: at least 1.
func countLimit(max int) int {
	if max < 1 {
		return 1
	}
	return max
}

// ctxErr prefers ctx's error to err once ctx has ended, so that a caller
// cancelling a wait sees context.Canceled, not a network error.
func ctxErr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return err
}
