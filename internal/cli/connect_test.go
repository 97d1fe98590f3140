package cli

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// connEnv is every variable resolveSettings reads.
var connEnv = []string{
	"GUST_ENDPOINT", "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL",
	"AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
}

// clearConnEnv blanks the connection variables for the test's duration.
func clearConnEnv(t *testing.T) {
	t.Helper()
	for _, k := range connEnv {
		t.Setenv(k, "")
	}
}

func TestResolveSettingsPrecedence(t *testing.T) {
	local := &serverInfo{Endpoint: "http://127.0.0.1:9001", Region: "eu-west-1", AccountID: "111111111111",
		AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret", PID: 42}
	other := &serverInfo{Endpoint: "http://127.0.0.1:9100", Region: "ap-south-1",
		AccessKeyID: "OTHERKEY", SecretAccessKey: "othersecret", PID: 43}
	awsCreds := map[string]string{"AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "envsecret"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	localSettings := Settings{Endpoint: "http://127.0.0.1:9001", Region: "eu-west-1", AccountID: "111111111111",
		AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret", Source: filepath.Join(".gust", "server.json")}

	tests := []struct {
		name      string
		info      *serverInfo // written to ./.gust/server.json
		otherInfo *serverInfo // written to ./other/server.json
		flags     connFlags
		env       map[string]string
		want      Settings
		wantErr   error
	}{
		{
			name:    "nothing at all",
			wantErr: errNoCredentials,
		},
		{
			name: "AWS env only: default endpoint and region",
			env:  awsCreds,
			want: Settings{Endpoint: defaultEndpoint, Region: "us-east-1", AccountID: defaultAccountID,
				AccessKeyID: "ENVKEY", SecretAccessKey: "envsecret", Source: "default"},
		},
		{
			name: "AWS_ENDPOINT_URL_LAMBDA beats AWS_ENDPOINT_URL; AWS_REGION beats AWS_DEFAULT_REGION",
			env: with(awsCreds, "AWS_ENDPOINT_URL", "http://generic:1", "AWS_ENDPOINT_URL_LAMBDA", "http://lambda:2",
				"AWS_DEFAULT_REGION", "eu-north-1", "AWS_REGION", "sa-east-1", "AWS_SESSION_TOKEN", "tok"),
			want: Settings{Endpoint: "http://lambda:2", Region: "sa-east-1", AccountID: defaultAccountID,
				AccessKeyID: "ENVKEY", SecretAccessKey: "envsecret", SessionToken: "tok", Source: "$AWS_ENDPOINT_URL_LAMBDA"},
		},
		{
			name: "AWS_DEFAULT_REGION when AWS_REGION is unset",
			env:  with(awsCreds, "AWS_ENDPOINT_URL", "http://generic:1", "AWS_DEFAULT_REGION", "eu-north-1"),
			want: Settings{Endpoint: "http://generic:1", Region: "eu-north-1", AccountID: defaultAccountID,
				AccessKeyID: "ENVKEY", SecretAccessKey: "envsecret", Source: "$AWS_ENDPOINT_URL"},
		},
		{
			name: "server.json beats AWS endpoint, region and credentials",
			info: local,
			env:  with(awsCreds, "AWS_ENDPOINT_URL_LAMBDA", "http://lambda:2", "AWS_REGION", "sa-east-1"),
			want: localSettings,
		},
		{
			name: "GUST_ENDPOINT naming another server skips server.json",
			info: local,
			env:  with(awsCreds, "GUST_ENDPOINT", "http://remote:9001", "AWS_REGION", "sa-east-1"),
			want: Settings{Endpoint: "http://remote:9001", Region: "sa-east-1", AccountID: defaultAccountID,
				AccessKeyID: "ENVKEY", SecretAccessKey: "envsecret", Source: "$GUST_ENDPOINT"},
		},
		{
			name:    "GUST_ENDPOINT naming another server needs AWS credentials",
			info:    local,
			env:     map[string]string{"GUST_ENDPOINT": "http://remote:9001"},
			wantErr: errNoCredentials,
		},
		{
			name: "GUST_ENDPOINT naming the local server keeps its credentials",
			info: local,
			env:  with(awsCreds, "GUST_ENDPOINT", "127.0.0.1:9001/"),
			want: localSettings,
		},
		{
			name:  "--endpoint beats GUST_ENDPOINT",
			flags: connFlags{endpoint: "http://flag:7"},
			env:   with(awsCreds, "GUST_ENDPOINT", "http://gust-env:8"),
			want: Settings{Endpoint: "http://flag:7", Region: "us-east-1", AccountID: defaultAccountID,
				AccessKeyID: "ENVKEY", SecretAccessKey: "envsecret", Source: "--endpoint"},
		},
		{
			name:  "host:port endpoint gets http://",
			flags: connFlags{endpoint: "localhost:9001"},
			env:   awsCreds,
			want: Settings{Endpoint: "http://localhost:9001", Region: "us-east-1", AccountID: defaultAccountID,
				AccessKeyID: "ENVKEY", SecretAccessKey: "envsecret", Source: "--endpoint"},
		},
		{
			name:  "--region beats server.json",
			info:  local,
			flags: connFlags{region: "us-west-2"},
			want: func() Settings {
				s := localSettings
				s.Region = "us-west-2"
				return s
			}(),
		},
		{
			name:      "--data selects another server",
			info:      local,
			otherInfo: other,
			flags:     connFlags{dataDir: "other"},
			want: Settings{Endpoint: "http://127.0.0.1:9100", Region: "ap-south-1", AccountID: defaultAccountID,
				AccessKeyID: "OTHERKEY", SecretAccessKey: "othersecret", Source: filepath.Join("other", "server.json")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearConnEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			t.Chdir(t.TempDir())
			if tt.info != nil {
				if err := writeServerInfo(".gust", *tt.info); err != nil {
					t.Fatal(err)
				}
			}
			if tt.otherInfo != nil {
				if err := writeServerInfo("other", *tt.otherInfo); err != nil {
					t.Fatal(err)
				}
			}
			got, err := resolveSettings(tt.flags, os.Getenv)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveSettingsCorruptServerInfo(t *testing.T) {
	clearConnEnv(t)
	t.Chdir(t.TempDir())
	if err := os.MkdirAll(".gust", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(".gust", "server.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	if _, err := resolveSettings(connFlags{}, os.Getenv); err == nil {
		t.Fatal("corrupt server.json was accepted")
	}
}

// TestSettingsClients checks the clients carry the resolved endpoint and
// region without reading shared AWS config.
func TestSettingsClients(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "missing"))
	s := Settings{Endpoint: "http://127.0.0.1:9001", Region: "eu-west-1", AccessKeyID: "k", SecretAccessKey: "s"}
	lo := s.LambdaClient().Options()
	if lo.BaseEndpoint == nil || *lo.BaseEndpoint != s.Endpoint || lo.Region != s.Region {
		t.Errorf("lambda client endpoint %v region %q, want %q %q", lo.BaseEndpoint, lo.Region, s.Endpoint, s.Region)
	}
	co := s.LogsClient().Options()
	if co.BaseEndpoint == nil || *co.BaseEndpoint != s.Endpoint || co.Region != s.Region {
		t.Errorf("logs client endpoint %v region %q, want %q %q", co.BaseEndpoint, co.Region, s.Endpoint, s.Region)
	}
	creds, err := lo.Credentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID != "k" || creds.SecretAccessKey != "s" {
		t.Errorf("credentials %+v, %v", creds, err)
	}
}
