// Package natsd owns Gust's connection to NATS JetStream: either an embedded
// NATS server running inside the process (the default) or a client
// connection to an external NATS cluster. Everything above it sees only a
// *nats.Conn and a jetstream.JetStream, so the two modes share one code path.
//
// Embedded mode never opens a network listener: the server runs with
// DontListen, the client connects in-process, and JetStream stores its files
// under Options.DataDir/nats with SyncAlways, so an acknowledged write is on
// disk.
//
// Goroutines: the embedded server's own (accept-less) goroutines and the
// nats.go client's; all of them end in Close, which drains the client and
// waits for the embedded server to shut down.
package natsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ServerName is the fixed name of the embedded server. JetStream records it
// in its store, so it must not change between runs on one data dir.
const ServerName = "gust"

// readyTimeout bounds how long Open waits for the embedded server.
const readyTimeout = 10 * time.Second

// drainTimeout bounds how long Close waits for the client to drain.
const drainTimeout = 10 * time.Second

// Options configure Open.
type Options struct {
	// DataDir is Gust's data directory. In embedded mode the JetStream file
	// store lives in DataDir/nats. Required in embedded mode; unused otherwise.
	DataDir string
	// URL selects the mode. "" (the default) starts an embedded server;
	// otherwise it is a comma-separated list of nats:// URLs of an external
	// cluster with JetStream enabled.
	URL string
	// Logger receives connection events and the embedded server's log (its
	// notices at debug level). Default: nil discards all of it.
	Logger *slog.Logger
}

// Conn is an open connection to JetStream, plus the embedded server when
// this Conn owns one.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream

	srv    *server.Server // nil in external mode
	log    *slog.Logger
	closed chan struct{} // closed by the client's ClosedHandler
	once   sync.Once
	err    error
}

// Open connects to JetStream as opts say and checks that JetStream answers.
// On error nothing is left running.
func Open(ctx context.Context, opts Options) (*Conn, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "natsd")
	c := &Conn{log: log, closed: make(chan struct{})}

	clientOpts := []nats.Option{
		nats.Name("gust"),
		nats.ClosedHandler(func(*nats.Conn) { close(c.closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
	}

	var (
		nc  *nats.Conn
		err error
	)
	if opts.URL == "" {
		c.srv, err = startEmbedded(opts.DataDir, log)
		if err != nil {
			return nil, err
		}
		nc, err = nats.Connect("", append(clientOpts, nats.InProcessServer(c.srv))...)
	} else {
		nc, err = nats.Connect(normalizeURLs(opts.URL), append(clientOpts, nats.MaxReconnects(-1))...)
	}
	if err != nil {
		c.shutdownServer()
		return nil, fmt.Errorf("nats connect: %w", err)
	}
	c.NC = nc

	js, err := jetstream.New(nc)
	if err == nil {
		// One round trip proves JetStream is enabled for this account.
		_, err = js.AccountInfo(ctx)
	}
	if err != nil {
		nc.Close()
		c.shutdownServer()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	c.JS = js
	if c.srv != nil {
		log.Debug("embedded nats ready", "store", filepath.Join(opts.DataDir, "nats"))
	} else {
		log.Info("connected to nats", "url", nc.ConnectedUrlRedacted())
	}
	return c, nil
}

// Embedded reports whether this Conn runs its own in-process server.
func (c *Conn) Embedded() bool { return c.srv != nil }

// Close drains the client connection (pending publishes and subscriptions
// finish) and, in embedded mode, shuts the server down and waits for it.
// It is safe to call more than once; later calls return the first result.
func (c *Conn) Close() error {
	c.once.Do(func() {
		var errs []error
		if err := c.NC.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, fmt.Errorf("nats drain: %w", err))
		}
		select {
		case <-c.closed:
		case <-time.After(drainTimeout):
			c.NC.Close()
			errs = append(errs, errors.New("nats drain: timed out"))
		}
		c.shutdownServer()
		c.err = errors.Join(errs...)
	})
	return c.err
}

// shutdownServer stops the embedded server, if any, and waits for it.
func (c *Conn) shutdownServer() {
	if c.srv == nil {
		return
	}
	c.srv.Shutdown()
	c.srv.WaitForShutdown()
}

// startEmbedded starts a listener-less JetStream server on dataDir/nats.
// MaxPayload is the largest message the embedded server accepts. An
// external cluster must allow at least this much (max_payload) for async
// invocations near Lambda's limits.
const MaxPayload = 8 << 20

func startEmbedded(dataDir string, log *slog.Logger) (*server.Server, error) {
	if dataDir == "" {
		return nil, errors.New("embedded nats: data dir required")
	}
	sopts := &server.Options{
		ServerName: ServerName,
		DontListen: true,
		JetStream:  true,
		StoreDir:   filepath.Join(dataDir, "nats"),
		SyncAlways: true,
		NoSigs:     true,
		// An async event (up to 1 MiB of payload plus headers) and a
		// destination record (request and response payloads) must fit in
		// one message; NATS's default is 1 MiB.
		MaxPayload: MaxPayload,
		// No monitoring, cluster, gateway, leaf node or websocket listeners:
		// their ports stay at zero, which means disabled.
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv.SetLoggerV2(&serverLogger{log: log}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: not ready after %s", readyTimeout)
	}
	return srv, nil
}

// normalizeURLs trims spaces around the comma-separated URLs.
func normalizeURLs(s string) string {
	parts := strings.Split(s, ",")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}
