package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"gust/internal/config"
	"gust/internal/gusttest"
	"gust/internal/server"
)

func TestAuthFailures(t *testing.T) {
	s := gusttest.StartServer(t)
	cpCreate(t, s.Lambda(), "guarded", cpNodeZip(t, "A"), nil)
	good := cpSigner(s)
	tests := []struct {
		name string
		sg   cpSigning
		code string
	}{
		{"unsigned", cpSigning{}, "InvalidSignatureException"},
		{"wrong secret", cpWith(good, func(sg *cpSigning) { sg.secret = "not-the-secret" }), "InvalidSignatureException"},
		{"unknown access key", cpWith(good, func(sg *cpSigning) { sg.key = "AKIDUNKNOWN000000000" }), "UnrecognizedClientException"},
		{"signed 10 minutes ago", cpWith(good, func(sg *cpSigning) { sg.at = time.Now().Add(-10 * time.Minute) }), "InvalidSignatureException"},
		{"signed 10 minutes ahead", cpWith(good, func(sg *cpSigning) { sg.at = time.Now().Add(10 * time.Minute) }), "InvalidSignatureException"},
		{"signed for s3", cpWith(good, func(sg *cpSigning) { sg.service = "s3" }), "InvalidSignatureException"},
		{"signed for another region", cpWith(good, func(sg *cpSigning) { sg.region = "eu-west-1" }), "InvalidSignatureException"},
	}
	routes := []struct{ method, path string }{
		{"GET", "/2015-03-31/functions"},
		{"GET", "/2015-03-31/functions/guarded"},
		{"POST", "/2015-03-31/functions/guarded/invocations"},
		{"DELETE", "/2015-03-31/functions/guarded"},
		{"GET", "/2016-08-19/account-settings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rt := range routes {
				r := cpRequest(t, s, tt.sg, rt.method, rt.path, nil)
				if r.status != http.StatusForbidden || r.errorCode() != tt.code || r.message(t) == "" {
					t.Errorf("%s %s: %d %q %s, want 403 %s", rt.method, rt.path, r.status, r.errorCode(), r.body, tt.code)
				}
				if r.header.Get("x-amzn-RequestId") == "" {
					t.Errorf("%s %s: no x-amzn-RequestId", rt.method, rt.path)
				}
			}
		})
	}

	// The signature covers the body: one signed for other bytes fails.
	body := []byte(`{"Description":"changed"}`)
	req, err := http.NewRequest("PUT", s.Endpoint+"/2015-03-31/functions/guarded/configuration", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	other := sha256.Sum256([]byte(`{"Description":"signed"}`))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: s.KeyID, SecretAccessKey: s.Secret},
		req, hex.EncodeToString(other[:]), "lambda", s.Region(), time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
		t.Errorf("body swapped after signing: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}

	// Nothing above got through: the function is untouched and alive.
	conf := cpConfig(t, s.Lambda(), "guarded")
	if aws.ToString(conf.Description) != "" {
		t.Errorf("Description = %q, changed by a rejected request", aws.ToString(conf.Description))
	}

	// The SDK sees the same codes.
	sdk := func(key, secret string) *lambda.Client {
		cfg := s.AWSConfig()
		cfg.Credentials = credentials.NewStaticCredentialsProvider(key, secret, "")
		return lambda.NewFromConfig(cfg, func(o *lambda.Options) {
			o.BaseEndpoint = aws.String(s.Endpoint)
			o.RetryMaxAttempts = 1
		})
	}
	_, err = sdk(s.KeyID, "wrong").ListFunctions(context.Background(), &lambda.ListFunctionsInput{})
	cpWantErr(t, err, "InvalidSignatureException", 403, "signature")
	_, err = sdk("AKIDUNKNOWN000000000", s.Secret).ListFunctions(context.Background(), &lambda.ListFunctionsInput{})
	cpWantErr(t, err, "UnrecognizedClientException", 403, "")
}

func TestHealthzNeedsNoAuth(t *testing.T) {
	s := gusttest.StartServer(t)
	resp, err := http.Get(s.Endpoint + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz: %d %q, want 200", resp.StatusCode, b)
	}
}

func TestGeneratedCredentials(t *testing.T) {
	s := gusttest.StartServer(t)
	path := filepath.Join(s.Config.DataDir, server.CredentialsFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("credentials file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode = %v, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var creds server.Credentials
	if err := json.Unmarshal(b, &creds); err != nil {
		t.Fatalf("credentials file %q: %v", b, err)
	}
	if creds.AccessKeyID == "" || creds.AccessKeyID != s.KeyID || creds.SecretAccessKey != s.Secret {
		t.Errorf("credentials file holds %q, server signs with %q", creds.AccessKeyID, s.KeyID)
	}
	if _, err := s.Lambda().ListFunctions(context.Background(), &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("generated credentials rejected: %v", err)
	}

	// A restart keeps the pair, so configured clients keep working.
	s2 := s.Restart(t)
	if s2.KeyID != s.KeyID || s2.Secret != s.Secret {
		t.Errorf("credentials changed across restart: %s → %s", s.KeyID, s2.KeyID)
	}
	if _, err := s2.Lambda().ListFunctions(context.Background(), &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("after restart: %v", err)
	}
}

func TestConfiguredCredentials(t *testing.T) {
	const key, secret = "AKIDGUSTCONFIGURED01", "configured/secret+key0123456789abcdefghij"
	s := gusttest.StartServer(t, func(cfg *config.Server) {
		cfg.AccessKeyID, cfg.SecretAccessKey = key, secret
	})
	if s.KeyID != key || s.Secret != secret {
		t.Fatalf("server credentials = %s, want the configured %s", s.KeyID, key)
	}
	if _, err := os.Stat(filepath.Join(s.Config.DataDir, server.CredentialsFile)); !os.IsNotExist(err) {
		t.Errorf("credentials file written although keys were configured (stat: %v)", err)
	}
	if _, err := s.Lambda().ListFunctions(context.Background(), &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("configured credentials rejected: %v", err)
	}
	r := cpRequest(t, s, cpWith(cpSigner(s), func(sg *cpSigning) { sg.secret = "generated-looking-secret" }), "GET", "/2015-03-31/functions", nil)
	if r.status != 403 || r.errorCode() != "InvalidSignatureException" {
		t.Errorf("wrong secret for the configured key: %d %s", r.status, r.errorCode())
	}
}

// cpWith returns sg changed by edit.
func cpWith(sg cpSigning, edit func(*cpSigning)) cpSigning {
	edit(&sg)
	return sg
}

// An unsigned request announcing a 60 MB body is refused from its headers
// alone: the server never waits for, or buffers, a stranger's body.
func TestUnsignedBodyIsNotRead(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.Endpoint, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /2015-03-31/functions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 60000000\r\n\r\n{",
		strings.TrimPrefix(s.Endpoint, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
		t.Fatalf("got %d %s, want 403 InvalidSignatureException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}
