package pubsub

import (
	"context"
	"net/url"
	"sort"
	"strings"
)

// prepareBroker sets up what topic t needs on its broker before it is
// stored: for NATS the capturing stream and the shared durable consumer,
// for MQTT a test connection that proves the URL and credentials.
func prepareBroker(ctx context.Context, t *Topic, nodeID string) error {
	if t.Broker == BrokerMQTT {
		return probeMQTT(ctx, t, nodeID)
	}
	nc, js, err := dialNATS(t.URL)
	if err != nil {
		return err
	}
	defer nc.Close()
	_, err = prepareNATS(ctx, js, t)
	return err
}

// scrubbedError hides a broker URL and its credentials from the message of
// the error it wraps, while errors.Is and errors.As still see the cause.
type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }

// scrub returns err with every server URL in rawURL (a comma-separated
// list), and every user name, password or token in them, removed from
// its message. Client libraries may quote the URL they were given.
func scrub(err error, rawURL string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, secret := range urlSecrets(rawURL) {
		msg = strings.ReplaceAll(msg, secret, "<redacted>")
	}
	return &scrubbedError{msg: msg, cause: err}
}

// urlSecrets lists the strings of rawURL that must not be shown, longest
// first, so that a whole URL is replaced before the user info inside it.
func urlSecrets(rawURL string) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	for part := range strings.SplitSeq(rawURL, ",") {
		part = strings.TrimSpace(part)
		add(part)
		u, err := url.Parse(part)
		if err != nil || u.User == nil {
			continue
		}
		add(u.User.String())
		add(u.User.Username())
		pass, _ := u.User.Password()
		add(pass)
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
