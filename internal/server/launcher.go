package server

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"gust/internal/codecache"
	"gust/internal/envpool"
	"gust/internal/iam"
	"gust/internal/lambda"
	"gust/internal/logs"
	"gust/internal/runtimes"
	"gust/internal/sandbox"
	"gust/internal/store"
)

// launcher prepares an environment's code and command: it unpacks the
// function's zip (once per node) and asks the runtime table how to start
// the runtime. Each environment also gets session credentials of its
// function's execution role and Gust's endpoint, as Lambda gives every
// environment its role's credentials, so the AWS SDK inside a function
// calls Gust with exactly the role's rights.
type launcher struct {
	store    *store.Store
	code     *codecache.Cache
	runtimes *runtimes.Table
	iam      *iam.Store
	// endpoint is the URL functions reach Gust's API at, set once the
	// listener is up (environments started before have none).
	endpoint atomic.Pointer[string]
}

// setEndpoint records the API's address as functions reach it: a
// wildcard listen address becomes loopback, which every sandbox routes to
// the host.
func (l *launcher) setEndpoint(addr net.Addr) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
	l.endpoint.Store(&url)
}

// sessionTTL is how long an environment's role credentials last. The
// pool retires an environment before they expire (envpool.LaunchSpec's
// Expires), so a running function never holds stale ones.
const sessionTTL = 6 * time.Hour

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
	spec := envpool.LaunchSpec{Argv: argv, Dir: dir, RuntimeDir: l.runtimes.RuntimeDir(), Env: l.runtimes.Env(fn.Runtime)}
	if err := l.addCredentials(&spec, fn); err != nil {
		return envpool.LaunchSpec{}, err
	}
	return spec, nil
}

// addCredentials gives the environment its role's session credentials and
// the endpoint variables the AWS SDKs read (AWS_ENDPOINT_URL_<SERVICE>).
// A function whose role no longer exists starts without credentials, as a
// Lambda function whose role was deleted cannot assume it.
func (l *launcher) addCredentials(spec *envpool.LaunchSpec, fn *lambda.Function) error {
	if l.iam == nil {
		return nil
	}
	if url := l.endpoint.Load(); url != nil {
		spec.Env = append(spec.Env, "AWS_ENDPOINT_URL_LAMBDA="+*url, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="+*url)
	}
	session := fn.Name
	if len(session) < 2 { // IAM session names are 2 to 64 characters
		session += "_"
	}
	creds, err := l.iam.IssueSession(fn.Role, session, sessionTTL)
	if err != nil {
		return nil //nolint:nilerr // no role, no credentials; the function still runs
	}
	spec.Env = append(spec.Env,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_SESSION_TOKEN="+creds.SessionToken,
	)
	spec.Expires = creds.Expiration
	return nil
}

// logWriter adapts the log store to the pool's line-by-line writer.
type logWriter struct{ s *logs.Store }

func (w logWriter) WriteLog(group, stream string, at time.Time, line string) {
	w.s.Append(group, stream, logs.Event{Timestamp: at.UnixMilli(), Message: line})
}

// stemRuntimes are the runtimes kept started as stem cells, by the name
// of their pool: one id per interpreter (every id of a family runs the
// same interpreter and bootstrap here).
var stemRuntimes = [][2]string{{"python", "python3.12"}, {"node", "nodejs20.x"}}

// stems describes count stem cells of each interpreter this host has;
// code is any absolute directory, standing for each function's code.
func (l *launcher) stems(kind string, count int, code string) []sandbox.Stem {
	if count <= 0 {
		return nil
	}
	var stems []sandbox.Stem
	for _, rt := range stemRuntimes {
		argv, err := l.runtimes.Command(rt[1], code)
		if err != nil {
			continue // no such interpreter here
		}
		spec := envpool.LaunchSpec{Argv: argv, Dir: code, RuntimeDir: l.runtimes.RuntimeDir(), Env: l.runtimes.Env(rt[1])}
		stems = append(stems, sandbox.Stem{Name: rt[0], Spec: envpool.StemSpec(kind, spec), Count: count})
	}
	return stems
}
