// Package config turns flags and environment variables into the plain
// Server struct the rest of Gust is built from. Every option states its
// default in its field comment; domain packages never read flags or the
// environment themselves.
package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"gust/internal/lazyre"
)

// Server is everything `gust server` can be told.
type Server struct {
	// DataDir holds the NATS store, unpacked code, logs and generated
	// credentials. Default ./.gust.
	DataDir string
	// Listen is the API address. Default 127.0.0.1:9001.
	Listen string
	// MetricsListen, when set, is a second address serving Prometheus
	// metrics at GET /metrics without authentication, for scrapers that
	// cannot sign requests. The API port always serves them, signed, at
	// GET /_gust/v1/metrics. Default "" (off).
	MetricsListen string
	// OTLPEndpoint, when set, is the base URL of an OTLP/HTTP collector
	// (e.g. http://127.0.0.1:4318) that receives one trace per invocation,
	// its trace id the X-Ray root's. Default "" (off: no tracer is built).
	OTLPEndpoint string
	// Region and AccountID are used in every ARN. Defaults us-east-1 and
	// 000000000000.
	Region    string
	AccountID string
	// AccessKeyID and SecretAccessKey are the credentials clients sign
	// with. Default: GUST_ACCESS_KEY_ID / GUST_SECRET_ACCESS_KEY, else a
	// pair generated on first start and kept in DataDir/credentials.
	AccessKeyID     string
	SecretAccessKey string
	// MaxConcurrency caps busy execution environments across all
	// functions (Lambda's account concurrency). Default 1000.
	MaxConcurrency int
	// IdleTimeout is how long an idle environment is kept warm. Default 10m.
	IdleTimeout time.Duration
	// InitTimeout bounds a runtime's init phase, as Lambda's 10 s limit
	// for on-demand environments does. Default 10s.
	InitTimeout time.Duration
	// Sandbox selects how environments are confined: "process" (a
	// process group; confines nothing) or "linux" (namespaces and cgroups;
	// Linux, as root). docs/security.md compares them. Default
	// DefaultSandbox(): linux when the server runs as root on Linux,
	// process otherwise.
	Sandbox string
	// SandboxShells is how many linux-sandbox environments are kept
	// started ahead of need (namespaces, network and cgroup made, the
	// root built), so a cold start only hands one the function. Each
	// costs an idle process of about 5 MB. 0 turns them off. Default 2.
	SandboxShells int
	// StemCells is how many Node.js and how many Python runtimes are kept
	// started in linux-sandbox shells, their bootstrap loaded, waiting
	// for a function; a cold start of a function of that runtime takes
	// one. Each costs an idle interpreter (Python about 10 MB, Node.js
	// about 40 MB). 0 turns them off. Default 1.
	StemCells int
	// ShutdownTimeout bounds the graceful drain on SIGTERM. Default 30s.
	ShutdownTimeout time.Duration
	// DeferReady keeps /healthz answering 503 after Start until the caller
	// calls Server.MarkReady. Default false: ready when Start returns.
	DeferReady bool
	// LogRetentionBytes bounds the on-disk logs kept per function. Default 16 MiB.
	LogRetentionBytes int64
	// LogBytesTotal bounds the on-disk logs of all functions together; past
	// it the oldest logs of the largest log groups go first. Default 1 GiB.
	LogBytesTotal int64
	// AsyncRetryBase is the delay unit between retries of a failed async
	// event: retry n waits n×AsyncRetryBase. Default 1m, Lambda's
	// schedule; tests shorten it.
	AsyncRetryBase time.Duration
	// AsyncThrottleBase starts the exponential backoff of async events
	// that were throttled or hit a platform fault (doubling up to 5m).
	// Default 1s.
	AsyncThrottleBase time.Duration
	// AsyncAckWait is how long an async event may go without a sign of
	// life from the node running it before it is delivered again (after a
	// crash). Default 30s.
	AsyncAckWait time.Duration
	// AsyncConcurrency caps the async events of one function run at once
	// on this node. Default 16.
	AsyncConcurrency int
	// NodePath and PythonPath override the interpreters used by the
	// managed runtimes. Default: resolved once from PATH.
	NodePath   string
	PythonPath string

	// EventsClock is a TEST HOOK, never set from flags or the environment:
	// it replaces the wall clock of the EventBridge scheduler and event
	// times, so tests advance schedules instead of waiting minutes. Its
	// methods are those of eventbus.Clock. Default nil: the wall clock.
	EventsClock interface {
		Now() time.Time
		Timer(deadline time.Time) (<-chan time.Time, func())
	}
}

// Defaults returns a Server config with every default applied and the
// credentials taken from the environment when set.
func Defaults() Server {
	return Server{
		DataDir:           ".gust",
		Listen:            "127.0.0.1:9001",
		Region:            "us-east-1",
		AccountID:         "000000000000",
		AccessKeyID:       os.Getenv("GUST_ACCESS_KEY_ID"),
		SecretAccessKey:   os.Getenv("GUST_SECRET_ACCESS_KEY"),
		MaxConcurrency:    1000,
		IdleTimeout:       10 * time.Minute,
		InitTimeout:       10 * time.Second,
		Sandbox:           DefaultSandbox(),
		SandboxShells:     2,
		StemCells:         1,
		ShutdownTimeout:   30 * time.Second,
		LogRetentionBytes: 16 << 20,
		LogBytesTotal:     1 << 30,
		AsyncRetryBase:    time.Minute,
		AsyncThrottleBase: time.Second,
		AsyncAckWait:      30 * time.Second,
		AsyncConcurrency:  16,
	}
}

// DefaultSandbox is the sandbox a server uses unless told otherwise:
// "linux" when it runs as root on Linux (the only case where that sandbox
// can work), "process" otherwise. `--sandbox process` opts out.
func DefaultSandbox() string {
	if runtime.GOOS == "linux" && os.Geteuid() == 0 {
		return "linux"
	}
	return "process"
}

var (
	accountID = lazyre.New(`^[0-9]{12}$`)
	region    = lazyre.New(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
)

// Validate checks values that would make the server misbehave.
func (c *Server) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("config: data dir is empty")
	}
	if c.MaxConcurrency < 1 {
		return fmt.Errorf("config: max concurrency must be at least 1, got %d", c.MaxConcurrency)
	}
	if c.IdleTimeout <= 0 {
		return fmt.Errorf("config: idle timeout must be positive, got %s", c.IdleTimeout)
	}
	if c.InitTimeout <= 0 || c.ShutdownTimeout <= 0 {
		return fmt.Errorf("config: init and shutdown timeouts must be positive, got %s and %s", c.InitTimeout, c.ShutdownTimeout)
	}
	if c.AsyncRetryBase <= 0 || c.AsyncThrottleBase <= 0 || c.AsyncAckWait < time.Second {
		return fmt.Errorf("config: async retry base and throttle base must be positive and ack wait at least 1s, got %s, %s and %s",
			c.AsyncRetryBase, c.AsyncThrottleBase, c.AsyncAckWait)
	}
	if c.SandboxShells < 0 || c.StemCells < 0 {
		return fmt.Errorf("config: sandbox shells and stem cells must not be negative, got %d and %d", c.SandboxShells, c.StemCells)
	}
	if c.AsyncConcurrency < 1 {
		return fmt.Errorf("config: async concurrency must be at least 1, got %d", c.AsyncConcurrency)
	}
	if c.LogRetentionBytes < 8<<10 {
		return fmt.Errorf("config: log bytes per function must be at least 8 KiB, got %d", c.LogRetentionBytes)
	}
	if c.LogBytesTotal < 8<<10 {
		return fmt.Errorf("config: log bytes in total must be at least 8 KiB, got %d", c.LogBytesTotal)
	}
	switch c.Sandbox {
	case "process":
	case "linux":
		if runtime.GOOS != "linux" || os.Geteuid() != 0 {
			return fmt.Errorf("config: the linux sandbox needs Linux and root (use --sandbox process)")
		}
	default:
		return fmt.Errorf("config: unknown sandbox %q (want process or linux)", c.Sandbox)
	}
	if !accountID.MatchString(c.AccountID) {
		return fmt.Errorf("config: account id must be 12 digits, got %q", c.AccountID)
	}
	if !region.MatchString(c.Region) {
		return fmt.Errorf("config: region %q is not a region name like us-east-1", c.Region)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("config: listen address %q: %w", c.Listen, err)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return fmt.Errorf("config: metrics listen address %q: %w", c.MetricsListen, err)
		}
	}
	if c.OTLPEndpoint != "" {
		if u, err := url.Parse(c.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("config: otlp endpoint %q: want an http:// or https:// URL", c.OTLPEndpoint)
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return fmt.Errorf("config: set both GUST_ACCESS_KEY_ID and GUST_SECRET_ACCESS_KEY, or neither")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("config: data dir: %w", err)
	}
	c.DataDir = abs
	return nil
}
