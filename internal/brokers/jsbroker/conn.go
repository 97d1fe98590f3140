package jsbroker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrClosed is returned by Receive and Read after Close.
var ErrClosed = errors.New("jsbroker: closed")

// ErrDisconnected is returned by Receive and Read when the connection to
// NATS is lost; the caller opens a new Queue or Stream.
var ErrDisconnected = errors.New("jsbroker: connection to NATS lost")

// pollWait bounds one wait for the server, so that a lost connection is
// noticed between two waits even when the server's heartbeats stop.
const pollWait = 3 * time.Second

// connName tells the NATS server's monitoring who this client is.
const connName = "gust event source mapping"

// connect dials the NATS server(s) in rawURL and opens JetStream on the
// connection. rawURL may carry credentials, so no error from here repeats
// it.
func connect(rawURL string) (*nats.Conn, jetstream.JetStream, error) {
	if strings.TrimSpace(rawURL) == "" {
		return nil, nil, errors.New("connect to NATS: no URL")
	}
	nc, err := nats.Connect(rawURL, nats.Name(connName))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS: %w", redactURL(err, rawURL))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("open JetStream: %w", err)
	}
	return nc, js, nil
}

// lookupStream returns the stream called name, with an error that names it
// when it does not exist (Gust never creates the user's streams).
func lookupStream(ctx context.Context, js jetstream.JetStream, name string) (jetstream.Stream, error) {
	if name == "" {
		return nil, errors.New("no stream name")
	}
	st, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("stream %q does not exist: %w", name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("look up stream %q: %w", name, err)
	}
	return st, nil
}

// redactedError hides the connection URL and its credentials from the
// message of the error it wraps, while errors.Is still sees the cause.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

// redactURL returns err with every server URL in rawURL, and every user
// name, password or token in them, removed from its message.
func redactURL(err error, rawURL string) error {
	msg := err.Error()
	for _, secret := range urlSecrets(rawURL) {
		msg = strings.ReplaceAll(msg, secret, "<redacted>")
	}
	return &redactedError{msg: msg, cause: err}
}

// urlSecrets lists the strings of rawURL (a comma-separated list of server
// URLs) that must not be shown, longest first so that a whole URL is
// replaced before the user info inside it.
func urlSecrets(rawURL string) []string {
	var secrets []string
	add := func(s string) {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	for part := range strings.SplitSeq(rawURL, ",") {
		part = strings.TrimSpace(part)
		add(part)
		if u, err := url.Parse(part); err == nil && u.User != nil {
			add(u.User.String())
			add(u.User.Username())
			pass, _ := u.User.Password()
			add(pass)
		} else if at := strings.LastIndex(part, "@"); at >= 0 {
			// Unparsable, but the user info is still what precedes '@'.
			info := part[:at]
			if i := strings.Index(info, "://"); i >= 0 {
				info = info[i+len("://"):]
			}
			add(info)
		}
	}
	sort.SliceStable(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	return secrets
}
