package cli

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
)

const (
	defaultDataDir   = ".gust"
	defaultEndpoint  = "http://127.0.0.1:9001"
	defaultRegion    = "us-east-1"
	defaultAccountID = "000000000000"
)

// Settings say where the client commands send requests and how they sign
// them. Build clients from them with LambdaClient and LogsClient.
type Settings struct {
	Endpoint        string // base URL, e.g. http://127.0.0.1:9001
	Region          string
	AccountID       string // for default role ARNs
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Source names where Endpoint came from, for messages.
	Source string
}

// awsConfig is a config built only from s; shared AWS config files and
// the default credential chain are never consulted.
func (s Settings) awsConfig() aws.Config {
	return aws.Config{
		Region:      s.Region,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, s.SessionToken),
	}
}

// LambdaClient is the SDK Lambda client every client command uses.
func (s Settings) LambdaClient(optFns ...func(*lambda.Options)) *lambda.Client {
	endpoint := s.Endpoint
	opts := append([]func(*lambda.Options){func(o *lambda.Options) { o.BaseEndpoint = &endpoint }}, optFns...)
	return lambda.NewFromConfig(s.awsConfig(), opts...)
}

// LogsClient is the SDK CloudWatch Logs client `gust logs` uses.
func (s Settings) LogsClient(optFns ...func(*cloudwatchlogs.Options)) *cloudwatchlogs.Client {
	endpoint := s.Endpoint
	opts := append([]func(*cloudwatchlogs.Options){func(o *cloudwatchlogs.Options) { o.BaseEndpoint = &endpoint }}, optFns...)
	return cloudwatchlogs.NewFromConfig(s.awsConfig(), opts...)
}

// connFlags are the root's persistent connection flags.
type connFlags struct {
	endpoint string
	region   string
	dataDir  string
}

// errNoCredentials explains how to get credentials; resolveSettings wraps it.
var errNoCredentials = errors.New("start `gust server` in this directory, or set GUST_ENDPOINT and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (see `gust env`)")

// resolveSettings applies, field by field and first match wins:
//
//	endpoint:    --endpoint, $GUST_ENDPOINT, <data>/server.json,
//	             $AWS_ENDPOINT_URL_LAMBDA, $AWS_ENDPOINT_URL, http://127.0.0.1:9001
//	region:      --region, server.json, $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1
//	credentials: server.json, $AWS_ACCESS_KEY_ID + $AWS_SECRET_ACCESS_KEY (+ $AWS_SESSION_TOKEN)
//
// server.json describes one server, so it is skipped entirely when
// --endpoint or $GUST_ENDPOINT names a different one: its keys would not
// sign for that server.
func resolveSettings(f connFlags, getenv func(string) string) (Settings, error) {
	dataDir := f.dataDir
	if dataDir == "" {
		dataDir = defaultDataDir
	}
	info, err := readServerInfo(dataDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return Settings{}, err
	}

	var s Settings
	switch {
	case f.endpoint != "":
		s.Endpoint, s.Source = f.endpoint, "--endpoint"
	case getenv("GUST_ENDPOINT") != "":
		s.Endpoint, s.Source = getenv("GUST_ENDPOINT"), "$GUST_ENDPOINT"
	}
	s.Endpoint = normalizeEndpoint(s.Endpoint)
	if info != nil && (s.Endpoint == "" || sameEndpoint(s.Endpoint, info.Endpoint)) {
		s.Endpoint = normalizeEndpoint(info.Endpoint)
		s.Source = filepath.Join(dataDir, serverInfoFile)
		s.Region = info.Region
		s.AccountID = info.AccountID
		s.AccessKeyID, s.SecretAccessKey = info.AccessKeyID, info.SecretAccessKey
	}
	if s.Endpoint == "" {
		s.Endpoint, s.Source = firstEnv(getenv, "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL")
		s.Endpoint = normalizeEndpoint(s.Endpoint)
	}
	if s.Endpoint == "" {
		s.Endpoint, s.Source = defaultEndpoint, "default"
	}
	if _, err := url.Parse(s.Endpoint); err != nil {
		return Settings{}, fmt.Errorf("endpoint from %s: %w", s.Source, err)
	}

	if f.region != "" {
		s.Region = f.region
	}
	if s.Region == "" {
		s.Region, _ = firstEnv(getenv, "AWS_REGION", "AWS_DEFAULT_REGION")
	}
	if s.Region == "" {
		s.Region = defaultRegion
	}
	if s.AccountID == "" {
		s.AccountID = defaultAccountID
	}

	if s.AccessKeyID == "" {
		s.AccessKeyID = getenv("AWS_ACCESS_KEY_ID")
		s.SecretAccessKey = getenv("AWS_SECRET_ACCESS_KEY")
		s.SessionToken = getenv("AWS_SESSION_TOKEN")
	}
	if s.AccessKeyID == "" || s.SecretAccessKey == "" {
		return Settings{}, fmt.Errorf("no credentials for %s (no server running with data dir %s): %w", s.Endpoint, dataDir, errNoCredentials)
	}
	return s, nil
}

// settings resolves the connection for a client command.
func (a *app) settings() (Settings, error) {
	return resolveSettings(a.conn, os.Getenv)
}

func firstEnv(getenv func(string) string, names ...string) (value, source string) {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v, "$" + n
		}
	}
	return "", ""
}

// normalizeEndpoint accepts host:port and adds http://; it drops a
// trailing slash so endpoints compare equal.
func normalizeEndpoint(e string) string {
	e = strings.TrimSpace(e)
	if e == "" {
		return ""
	}
	if !strings.Contains(e, "://") {
		e = "http://" + e
	}
	return strings.TrimRight(e, "/")
}

func sameEndpoint(a, b string) bool {
	return normalizeEndpoint(a) == normalizeEndpoint(b)
}

// describeError renders an error for a person: AWS errors as their code
// and message, unreachable servers with a hint.
func describeError(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode() + ": " + apiErr.ErrorMessage()
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return fmt.Sprintf("cannot reach %v: %v\nIs `gust server` running? Start it, or point --endpoint / GUST_ENDPOINT at it.", opErr.Addr, opErr.Err)
	}
	return err.Error()
}
