package bench

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/bench/echo"
	"gust/internal/config"
	"gust/internal/iam"
	glambda "gust/internal/lambda"
	"gust/internal/server"
)

const (
	// functionPrefix names the deployed functions: gust-bench-<runtime>.
	functionPrefix = "gust-bench-"
	// memorySize is every bench function's MemorySize, in MB.
	memorySize = 512
	// functionTimeout is every bench function's Timeout, in seconds: room
	// for a cold start and a held invoke on a loaded machine.
	functionTimeout = 60
	// recycleVar is the environment variable whose change forces new
	// environments.
	recycleVar = "GUST_BENCH_GENERATION"
	// updateWait bounds the wait for a configuration update to finish.
	updateWait = time.Minute
	// shutdownTimeout bounds the in-process server's drain.
	shutdownTimeout = 30 * time.Second
)

// functionName is the deployed function of runtime rt.
func functionName(rt string) string { return functionPrefix + rt }

// target is the server being measured and the client that measures it.
type target struct {
	info    Target
	lambda  *lambda.Client
	account string
	srv     *server.Server // nil unless in-process
	dataDir string         // the in-process server's; removed by close
	gen     int            // last recycle generation
}

// openTarget starts the in-process server, or connects to opts.Endpoint.
func openTarget(ctx context.Context, opts Options) (*target, error) {
	if opts.Endpoint != "" {
		cfg := aws.Config{Region: opts.Region, Credentials: opts.Credentials}
		return &target{
			info:    Target{Endpoint: opts.Endpoint},
			lambda:  newClient(cfg, opts.Endpoint),
			account: opts.AccountID,
		}, nil
	}
	dir, err := os.MkdirTemp("", "gust-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: data dir: %w", err)
	}
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.Region = opts.Region
	if opts.Sandbox != "" {
		cfg.Sandbox = opts.Sandbox
	}
	cfg.PythonPath, cfg.NodePath = opts.Python, opts.Node
	// Room for the scale-out and the widest warm measurement at once.
	cfg.MaxConcurrency = max(cfg.MaxConcurrency, opts.ScaleOut+slices.Max(opts.Concurrency))
	srv, err := server.New(cfg, opts.Logger)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: server: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: start server: %w", err)
	}
	keyID, secret := srv.Credentials()
	awsCfg := aws.Config{
		Region:      srv.Region(),
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""),
	}
	return &target{
		info:    Target{Endpoint: srv.Endpoint(), InProcess: true, Sandbox: cfg.Sandbox, Linking: linking()},
		lambda:  newClient(awsCfg, srv.Endpoint()),
		account: cfg.AccountID,
		srv:     srv,
		dataDir: dir,
	}, nil
}

// close stops the in-process server and removes its data dir.
func (t *target) close() error {
	if t.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	if err := t.srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("bench: stop server: %w", err))
	}
	if err := os.RemoveAll(t.dataDir); err != nil {
		errs = append(errs, fmt.Errorf("bench: remove data dir: %w", err))
	}
	return errors.Join(errs...)
}

// newClient is a Lambda client whose transport keeps 64 idle connections
// per host: with Go's default of 2, most requests at concurrency 32 would
// dial a new connection, and the bench would measure TCP setup instead of
// the server. Retries are off, so every figure is one request.
func newClient(cfg aws.Config, endpoint string) *lambda.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	cfg.HTTPClient = &http.Client{Timeout: 5 * time.Minute, Transport: tr}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.RetryMaxAttempts = 1
	})
}

// deploy creates the bench functions and returns the names created, also
// on error, so they can be removed.
func deploy(ctx context.Context, t *target, opts Options, p func(string, ...any)) ([]string, error) {
	rts := opts.Runtimes
	if opts.needsGo() && !slices.Contains(rts, RuntimeGo) {
		rts = append([]string{RuntimeGo}, rts...)
	}
	var created []string
	for _, rt := range rts {
		in, err := functionInput(rt, opts.GoBootstrap, t.account)
		if err != nil {
			return created, err
		}
		// A function left by an interrupted run would make Create fail.
		if _, err := t.lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: in.FunctionName}); err != nil && !isNotFound(err) {
			return created, fmt.Errorf("bench: delete old %s: %w", *in.FunctionName, err)
		}
		if _, err := t.lambda.CreateFunction(ctx, in); err != nil {
			return created, fmt.Errorf("bench: create %s: %w", *in.FunctionName, err)
		}
		created = append(created, *in.FunctionName)
		if err := waitUpdated(ctx, t, *in.FunctionName); err != nil {
			return created, err
		}
		p("deployed %s (%s, %d KiB zipped)", *in.FunctionName, in.Runtime, (len(in.Code.ZipFile)+1023)>>10)
	}
	return created, nil
}

// functionInput is the CreateFunction request of runtime rt's echo.
func functionInput(rt, goBootstrap, account string) (*lambda.CreateFunctionInput, error) {
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(functionName(rt)),
		Role:         aws.String("arn:aws:iam::" + account + ":role/" + iam.DefaultRole),
		MemorySize:   aws.Int32(memorySize),
		Timeout:      aws.Int32(functionTimeout),
		Description:  aws.String("gust bench echo function; deleted when the bench ends"),
	}
	var err error
	switch rt {
	case RuntimeGo:
		in.Runtime, in.Handler = types.RuntimeProvidedal2023, aws.String(echo.HandlerName)
		in.Code = &types.FunctionCode{}
		in.Code.ZipFile, err = zipExecutable(goBootstrap)
	case RuntimeNode:
		in.Runtime, in.Handler = types.RuntimeNodejs20x, aws.String("index.handler")
		in.Code = &types.FunctionCode{}
		in.Code.ZipFile, err = zipFile("index.mjs", []byte(nodeEcho), 0o644)
	case RuntimePython:
		in.Runtime, in.Handler = types.RuntimePython312, aws.String("index.handler")
		in.Code = &types.FunctionCode{}
		in.Code.ZipFile, err = zipFile("index.py", []byte(pythonEcho), 0o644)
	default:
		return nil, fmt.Errorf("bench: unknown runtime %q", rt)
	}
	if err != nil {
		return nil, fmt.Errorf("bench: package %s: %w", rt, err)
	}
	return in, nil
}

// The interpreted echo functions: they return the event, or for an event
// asking "whoami" (measureMemory), their log stream name.
const (
	nodeEcho   = "export const handler = async (e, c) => (e && e.whoami ? { stream: c.logStreamName } : e);\n"
	pythonEcho = "def handler(e, c):\n    if isinstance(e, dict) and e.get('whoami'):\n        return {'stream': c.log_stream_name}\n    return e\n"
)

// zipExecutable packages the executable at path as a provided-runtime
// deployment zip holding it as "bootstrap", mode 0755.
func zipExecutable(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	z, err := zipFile("bootstrap", b, 0o755)
	if err != nil {
		return nil, err
	}
	if len(z) > glambda.MaxZippedCodeBytes {
		return nil, fmt.Errorf("%s zips to %d bytes, over Lambda's %d: build a smaller bootstrap (go build ./internal/bench/echofn) and pass it as --go-bootstrap",
			path, len(z), glambda.MaxZippedCodeBytes)
	}
	return z, nil
}

// zipFile is a deployment zip holding one file.
func zipFile(name string, body []byte, mode os.FileMode) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: name, Method: zip.Deflate}
	h.SetMode(mode)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, bytes.NewReader(body)); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// removeFunctions deletes the bench functions, even after ctx ended.
func removeFunctions(t *target, names []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	for _, n := range names {
		if _, err := t.lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(n)}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("bench: delete %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// recycle forces fn's next invokes onto new environments: it changes an
// environment variable, which stops the idle environments of the old
// configuration, and waits until the update is done.
func (t *target) recycle(ctx context.Context, fn string) error {
	t.gen++
	_, err := t.lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(fn),
		Environment:  &types.Environment{Variables: map[string]string{recycleVar: strconv.Itoa(t.gen)}},
	})
	if err != nil {
		return fmt.Errorf("bench: update %s: %w", fn, err)
	}
	return waitUpdated(ctx, t, fn)
}

// waitUpdated polls fn's configuration until its last update succeeded.
func waitUpdated(ctx context.Context, t *target, fn string) error {
	ctx, cancel := context.WithTimeout(ctx, updateWait)
	defer cancel()
	for {
		c, err := t.lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn)})
		if err != nil {
			return fmt.Errorf("bench: wait for %s: %w", fn, err)
		}
		switch c.LastUpdateStatus {
		case types.LastUpdateStatusSuccessful, "": // "" from servers that update at once
			if c.State == types.StateActive || c.State == "" {
				return nil
			}
		case types.LastUpdateStatusFailed:
			return fmt.Errorf("bench: update of %s failed: %s", fn, aws.ToString(c.LastUpdateStatusReason))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: wait for %s to be updated: %w", fn, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// isNotFound reports a ResourceNotFoundException.
func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// linking reports whether the running binary is "static" or "dynamic"
// (it names an ELF interpreter, the dynamic linker), or "" when it cannot
// tell. A static build (CGO_ENABLED=0) spares every sandbox init, which
// is this binary re-executed, the loading of the C library.
func linking() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := elf.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "dynamic"
		}
	}
	return "static"
}
