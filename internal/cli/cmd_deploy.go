package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"

	gl "gust/internal/lambda"
)

// waitTimeout bounds how long deploy waits for a function to become
// Active or finish an update.
const waitTimeout = 5 * time.Minute

type deployOptions struct {
	name        string
	runtime     string
	handler     string
	memory      int32
	timeout     int32
	env         []string
	role        string
	description string
}

func (a *app) deployCommand() *cobra.Command {
	var o deployOptions
	cmd := &cobra.Command{
		Use:   "deploy DIR|ZIP --name NAME [--runtime RUNTIME --handler HANDLER]",
		Short: "Create or update a function from a directory or a zip",
		Long: `Create a function, or update it if it exists, from a directory or a .zip file.

A directory is zipped in memory, deterministically: the same files give the
same CodeSha256. Executable bits are kept; .git and .gust are skipped. A
.zip file is sent as it is.

On create, --runtime and --handler are required; --role defaults to
arn:aws:iam::<account>:role/gust-<name>, which deploy creates if it does not
exist with the least privilege a function needs: writing its own logs. On update, the code is replaced and
only the configuration flags you give are changed; --env replaces the whole
environment.

Runtimes: ` + strings.Join(gl.SupportedRuntimes(), ", ") + ".",
		Example: `  gust deploy ./hello --name hello --runtime nodejs20.x --handler index.handler
  gust deploy ./hello --name hello                      # update the code only
  gust deploy build/fn.zip --name fn --runtime provided.al2023 --handler bootstrap \
      --memory 256 --timeout 30 --env STAGE=dev --env LOG_LEVEL=debug`,
		Args: exactArgs(1, "one directory or .zip file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.name == "" {
				return usageError{cmd: cmd, err: errors.New("--name is required")}
			}
			env, err := parseEnvFlags(o.env)
			if err != nil {
				return usageError{cmd: cmd, err: err}
			}
			code, err := readCode(args[0])
			if err != nil {
				return err
			}
			if err := checkCodeSize(code); err != nil {
				return err
			}
			s, err := a.settings()
			if err != nil {
				return err
			}
			return a.deploy(cmd.Context(), cmd, s.LambdaClient(), s.AccountID, o, env, code)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "function name (required)")
	f.StringVar(&o.runtime, "runtime", "", "runtime id, e.g. nodejs20.x, python3.12, provided.al2023 (required on create)")
	f.StringVar(&o.handler, "handler", "", "handler, e.g. index.handler or bootstrap (required on create)")
	f.Int32Var(&o.memory, "memory", 0, "memory in MB, 128-10240 (Lambda's default 128)")
	f.Int32Var(&o.timeout, "timeout", 0, "timeout in seconds, 1-900 (Lambda's default 3)")
	f.StringArrayVar(&o.env, "env", nil, "environment variable K=V; repeat for more")
	f.StringVar(&o.role, "role", "", "execution role ARN (default arn:aws:iam::<account>:role/gust-<name>)")
	f.StringVar(&o.description, "description", "", "function description")
	_ = cmd.RegisterFlagCompletionFunc("runtime", cobra.FixedCompletions(gl.SupportedRuntimes(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// readCode returns the zip for path: a directory zipped, or a .zip read.
func readCode(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	if info.IsDir() {
		return zipDir(path)
	}
	if !strings.HasSuffix(strings.ToLower(path), ".zip") {
		return nil, fmt.Errorf("deploy: %s is neither a directory nor a .zip file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	return b, nil
}

// checkCodeSize refuses, before uploading, a zip Lambda would reject.
func checkCodeSize(code []byte) error {
	if len(code) > gl.MaxZippedCodeBytes {
		return fmt.Errorf("deploy: the zip is %s; Lambda accepts at most %s uploaded directly", formatBytes(int64(len(code))), formatBytes(gl.MaxZippedCodeBytes))
	}
	return nil
}

// parseEnvFlags turns K=V pairs into a map; a later K wins.
func parseEnvFlags(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	env := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: want KEY=VALUE", p)
		}
		env[k] = v
	}
	return env, nil
}

func (a *app) deploy(ctx context.Context, cmd *cobra.Command, lc *lambda.Client, account string, o deployOptions, env map[string]string, code []byte) error {
	_, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &o.name})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return a.createFunction(ctx, cmd, lc, account, o, env, code)
	case err != nil:
		return fmt.Errorf("deploy %s: %w", o.name, err)
	}
	return a.updateFunction(ctx, cmd, lc, o, env, code)
}

func (a *app) createFunction(ctx context.Context, cmd *cobra.Command, lc *lambda.Client, account string, o deployOptions, env map[string]string, code []byte) error {
	var missing []string
	if o.runtime == "" {
		missing = append(missing, "--runtime")
	}
	if o.handler == "" {
		missing = append(missing, "--handler")
	}
	if len(missing) > 0 {
		return usageError{cmd: cmd, err: fmt.Errorf("function %s does not exist yet; creating it needs %s", o.name, strings.Join(missing, " and "))}
	}
	role := o.role
	if role == "" {
		var err error
		if role, err = a.ensureFunctionRole(ctx, account, o.name); err != nil {
			return fmt.Errorf("deploy %s: %w", o.name, err)
		}
	}
	in := &lambda.CreateFunctionInput{
		FunctionName: &o.name,
		Runtime:      types.Runtime(o.runtime),
		Handler:      &o.handler,
		Role:         &role,
		Code:         &types.FunctionCode{ZipFile: code},
	}
	if o.memory != 0 {
		in.MemorySize = &o.memory
	}
	if o.timeout != 0 {
		in.Timeout = &o.timeout
	}
	if o.description != "" {
		in.Description = &o.description
	}
	if env != nil {
		in.Environment = &types.Environment{Variables: env}
	}
	out, err := lc.CreateFunction(ctx, in)
	if err != nil {
		return fmt.Errorf("deploy %s: create: %w", o.name, err)
	}
	if out.State != types.StateActive {
		w := lambda.NewFunctionActiveV2Waiter(lc)
		if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: &o.name}, waitTimeout); err != nil {
			return fmt.Errorf("deploy %s: wait for active: %w", o.name, err)
		}
	}
	a.printDeploySummary("created", out.FunctionName, out.Runtime, out.Handler, out.CodeSha256, out.CodeSize)
	return nil
}

func (a *app) updateFunction(ctx context.Context, cmd *cobra.Command, lc *lambda.Client, o deployOptions, env map[string]string, code []byte) error {
	out, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: &o.name, ZipFile: code})
	if err != nil {
		return fmt.Errorf("deploy %s: update code: %w", o.name, err)
	}
	name, runtime, handler, sha, size := out.FunctionName, out.Runtime, out.Handler, out.CodeSha256, out.CodeSize

	in := &lambda.UpdateFunctionConfigurationInput{FunctionName: &o.name}
	changed := false
	flags := cmd.Flags()
	set := func(flag string, apply func()) {
		if flags.Changed(flag) {
			apply()
			changed = true
		}
	}
	set("runtime", func() { in.Runtime = types.Runtime(o.runtime) })
	set("handler", func() { in.Handler = &o.handler })
	set("memory", func() { in.MemorySize = &o.memory })
	set("timeout", func() { in.Timeout = &o.timeout })
	set("role", func() { in.Role = &o.role })
	set("description", func() { in.Description = &o.description })
	set("env", func() { in.Environment = &types.Environment{Variables: env} })

	if changed {
		if out.LastUpdateStatus != types.LastUpdateStatusSuccessful {
			if err := a.waitUpdated(ctx, lc, o.name); err != nil {
				return err
			}
		}
		cfg, err := lc.UpdateFunctionConfiguration(ctx, in)
		if err != nil {
			// The code is already live; say so rather than leave the user
			// to guess what changed.
			return fmt.Errorf("deploy %s: code updated (CodeSha256 %s), configuration NOT changed: %w", o.name, deref(sha), err)
		}
		name, runtime, handler = cfg.FunctionName, cfg.Runtime, cfg.Handler
		if cfg.LastUpdateStatus != types.LastUpdateStatusSuccessful {
			if err := a.waitUpdated(ctx, lc, o.name); err != nil {
				return err
			}
		}
	} else if out.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		if err := a.waitUpdated(ctx, lc, o.name); err != nil {
			return err
		}
	}
	a.printDeploySummary("updated", name, runtime, handler, sha, size)
	return nil
}

func (a *app) waitUpdated(ctx context.Context, lc *lambda.Client, name string) error {
	w := lambda.NewFunctionUpdatedV2Waiter(lc)
	if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: &name}, waitTimeout); err != nil {
		return fmt.Errorf("deploy %s: wait for update: %w", name, err)
	}
	return nil
}

func (a *app) printDeploySummary(verb string, name *string, runtime types.Runtime, handler, sha *string, size int64) {
	fmt.Fprintf(a.stdout, "%s %s\n", verb, aws.ToString(name))
	fmt.Fprintf(a.stdout, "  runtime:  %s\n", runtime)
	fmt.Fprintf(a.stdout, "  handler:  %s\n", aws.ToString(handler))
	fmt.Fprintf(a.stdout, "  code:     %s (%s)\n", aws.ToString(sha), formatBytes(size))
}

// formatBytes renders n as B, KiB or MiB with one decimal.
func formatBytes(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1024*1024))
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ensureFunctionRole returns the ARN of role gust-<function>, creating it
// when absent with a policy that allows only writing the function's own
// logs, so every function deployed without --role gets its own
// least-privilege role rather than a shared broad one.
func (a *app) ensureFunctionRole(ctx context.Context, account, function string) (string, error) {
	name := "gust-" + function
	arn := fmt.Sprintf("arn:aws:iam::%s:role/%s", account, name)
	c, err := a.gustClient()
	if err != nil {
		return "", err
	}
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",`+
		`"Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],`+
		`"Resource":"arn:aws:logs:*:%s:log-group:/aws/lambda/%s:*"}]}`, account, function)
	body, err := json.Marshal(map[string]string{"RoleName": name, "PolicyDocument": policy})
	if err != nil {
		return "", err
	}
	err = c.send(ctx, http.MethodPost, "/_gust/v1/iam/roles", body, nil)
	var apiErr *GustAPIError
	if err == nil || (errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict) {
		return arn, nil
	}
	return "", fmt.Errorf("create execution role %s: %w", name, err)
}
