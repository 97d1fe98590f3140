package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) envCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "env",
		Short: "Print shell exports that point AWS tools at Gust",
		Long: `Print export lines for AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
AWS_DEFAULT_REGION and AWS_ENDPOINT_URL, so the aws CLI, the AWS SDKs and
anything built on them talk to Gust.

The values come from the server running with --data (its server.json).
When no server is running but it has run before, the key pair it generated
(<data>/credentials) is printed with the default endpoint.`,
		Example: `  eval "$(gust env)"
  eval "$(gust env --data /var/lib/gust)"
  gust env > gust.env`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			vars, err := envVars(a.conn.dataDir)
			if err != nil {
				return err
			}
			writeExports(a.stdout, vars)
			return nil
		},
	}
}

// envVar is one exported variable.
type envVar struct{ name, value string }

// envVars builds the exports from <dataDir>/server.json, or from
// <dataDir>/credentials with the default endpoint and region.
func envVars(dataDir string) ([]envVar, error) {
	if dataDir == "" {
		dataDir = defaultDataDir
	}
	build := func(key, secret, region, endpoint string) []envVar {
		return []envVar{
			{"AWS_ACCESS_KEY_ID", key},
			{"AWS_SECRET_ACCESS_KEY", secret},
			{"AWS_REGION", region},
			{"AWS_DEFAULT_REGION", region},
			{"AWS_ENDPOINT_URL", endpoint},
		}
	}
	info, err := readServerInfo(dataDir)
	if err == nil {
		region := info.Region
		if region == "" {
			region = defaultRegion
		}
		return build(info.AccessKeyID, info.SecretAccessKey, region, info.Endpoint), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("env: %w", err)
	}
	creds, err := readStoredCredentials(dataDir)
	if err == nil {
		return build(creds.AccessKeyID, creds.SecretAccessKey, defaultRegion, defaultEndpoint), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("env: %w", err)
	}
	return nil, fmt.Errorf("env: no Gust server has run with data dir %s (no %s or %s there); start `gust server` in this directory, or pass --data",
		dataDir, filepath.Join(dataDir, serverInfoFile), filepath.Join(dataDir, credentialsFile))
}

func writeExports(w io.Writer, vars []envVar) {
	for _, v := range vars {
		fmt.Fprintf(w, "export %s=%s\n", v.name, shellQuote(v.value))
	}
}

// shellQuote returns s unchanged when a POSIX shell would read it as one
// literal word, and single-quoted otherwise.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.,:/@%+=", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
