package server_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/cli"
	"gust/internal/gusttest"
)

// s3Report is what testdata/s3fn posts for each invocation.
type s3Report struct {
	RequestID string          `json:"requestId"`
	Event     json.RawMessage `json:"event"`
	Error     string          `json:"error"`
	Records   []s3Record      `json:"records"`
}

type s3Record struct {
	EventName       string `json:"eventName"`
	EventVersion    string `json:"eventVersion"`
	Key             string `json:"key"`
	URLDecodedKey   string `json:"urlDecodedKey"`
	Bucket          string `json:"bucket"`
	BucketARN       string `json:"bucketArn"`
	ConfigurationID string `json:"configurationId"`
	Size            int64  `json:"size"`
	ETag            string `json:"eTag"`
	Sequencer       string `json:"sequencer"`
}

// s3Collector receives s3fn's reports.
type s3Collector struct{ *reportCollector[s3Report] }

func newS3Collector(t *testing.T) *s3Collector {
	return &s3Collector{newReportCollector[s3Report](t)}
}

// deployS3Function creates testdata/s3fn as name, reporting to c.
func deployS3Function(t *testing.T, srv *gusttest.Server, name string, c *s3Collector) {
	t.Helper()
	createFunction(t, srv.Lambda(), name, types.RuntimeProvidedal2023, "bootstrap", builtFunction(t, "s3fn"), withTimeout(30),
		func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"COLLECT_URL": c.srv.URL}}
		})
}

// allowS3 runs the equivalent of `aws lambda add-permission --principal
// s3.amazonaws.com --source-arn arn:aws:s3:::<bucket>`.
func allowS3(t *testing.T, srv *gusttest.Server, function, bucket string) {
	t.Helper()
	_, err := srv.Lambda().AddPermission(t.Context(), &lambda.AddPermissionInput{FunctionName: aws.String(function),
		StatementId: aws.String("s3-" + bucket), Action: aws.String("lambda:InvokeFunction"),
		Principal: aws.String("s3.amazonaws.com"), SourceArn: aws.String("arn:aws:s3:::" + bucket)})
	if err != nil {
		t.Fatalf("add-permission %s for %s: %v", function, bucket, err)
	}
}

// gust runs the gust CLI in-process against srv, found through a
// server.json as `gust server` writes it, and returns its exit status and
// output.
func gust(t *testing.T, srv *gusttest.Server, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	info, _ := json.Marshal(map[string]any{"endpoint": srv.Endpoint, "region": srv.Region(), "accountId": "000000000000",
		"accessKeyId": srv.KeyID, "secretAccessKey": srv.Secret, "pid": os.Getpid()})
	if err := os.WriteFile(filepath.Join(dir, "server.json"), info, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code = cli.Run(t.Context(), append([]string{"--data", dir}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustGust(t *testing.T, srv *gusttest.Server, args ...string) string {
	t.Helper()
	code, out, errOut := gust(t, srv, args...)
	if code != 0 {
		t.Fatalf("gust %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// signed sends a request signed with key/secret for service and returns
// the status, headers and body.
func signed(t *testing.T, method, rawURL, service, key, secret string, body []byte) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" })
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	if err := signer.SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// post sends an unsigned POST, as a store's webhook does.
func post(t *testing.T, rawURL string, body []byte) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Post(rawURL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// versitygwVersion is the versitygw the end-to-end test builds.
const versitygwVersion = "v1.8.0"

// versitygwBinary builds versitygw once per machine into
// <tmp>/gust-versitygw-<version>; it skips the test (fails it with
// CI=true) when that cannot be done.
func versitygwBinary(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "gust-versitygw-"+versitygwVersion)
	bin := filepath.Join(dir, "versitygw")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return bin
	}
	gobin := t.TempDir()
	install := exec.Command("go", "install", "github.com/versity/versitygw/cmd/versitygw@"+versitygwVersion)
	install.Dir = gobin // outside this module: the tool's own go.mod applies
	install.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=", "CGO_ENABLED=0")
	out, err := install.CombinedOutput()
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		// Rename is atomic: a concurrent run finds either no binary or a whole one.
		err = os.Rename(filepath.Join(gobin, "versitygw"), bin)
	}
	if err != nil {
		msg := "cannot build versitygw " + versitygwVersion + " (go install github.com/versity/versitygw/cmd/versitygw@" + versitygwVersion + "): " + err.Error() + "\n" + string(out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// versityGW is a running versitygw: the posix backend on a temp dir, its
// bucket events posted to a webhook.
type versityGW struct {
	endpoint, key, secret string
	// out is read only once the process has exited and Wait has copied
	// all of its output.
	out *bytes.Buffer
}

func startVersityGW(t *testing.T, bin, webhook string) *versityGW {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	gw := &versityGW{endpoint: "http://" + addr, key: "gustvgwadmin", secret: "gust-vgw-secret-key-0123", out: &bytes.Buffer{}}
	cmd := exec.Command(bin, "--port", addr, "--access", gw.key, "--secret", gw.secret, "--region", "us-east-1",
		"--event-webhook-url", webhook, "posix", t.TempDir())
	cmd.Stdout, cmd.Stderr = gw.out, gw.out // one writer: os/exec copies with one goroutine
	if err := cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("versitygw output:\n%s", gw.out.String())
		}
	})
	gusttest.WaitFor(t, 30*time.Second, "versitygw to serve "+addr, func() bool {
		select {
		case <-exited:
			t.Fatalf("versitygw exited:\n%s", gw.out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return gw
}

// do sends a signed S3 request for bucket and key (path-style, key
// escaped as SigV4 canonicalises it) and fails the test unless it
// succeeds.
func (gw *versityGW) do(t *testing.T, method, bucket, key string, body []byte) {
	t.Helper()
	path, raw := "/"+bucket, "/"+bucket
	if key != "" {
		path += "/" + key
		raw += "/" + s3Escape(key)
	}
	u := &url.URL{Scheme: "http", Host: strings.TrimPrefix(gw.endpoint, "http://"), Path: path, RawPath: raw}
	status, _, answer := signed(t, method, u.String(), "s3", gw.key, gw.secret, body)
	if status/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, raw, status, answer)
	}
}

// s3Escape escapes a key as SigV4 canonicalises S3 paths: everything but
// A-Z a-z 0-9 - . _ ~ and '/' as %XX.
func s3Escape(key string) string {
	var b strings.Builder
	for _, c := range []byte(key) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

// s3EventKeys are the keys of aws-lambda-go's own S3 event fixture
// (events/testdata/s3-event.json in the module cache), as dotted paths.
func s3EventKeys(t *testing.T, doc []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				set[prefix+k] = true
				walk(prefix+k+".", child)
			}
		case []any:
			for _, child := range x {
				walk(prefix+"[].", child)
			}
		}
	}
	walk("", v)
	return set
}

// checkS3Event asserts that event decodes strictly into events.S3Event
// and has aws-lambda-go's fixture's keys, less those S3 leaves out of
// removals and of unversioned buckets.
func checkS3Event(t *testing.T, event []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.DisallowUnknownFields()
	var ev events.S3Event
	if err := dec.Decode(&ev); err != nil {
		t.Errorf("event does not decode strictly into events.S3Event: %v\n%s", err, event)
	}
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	if err != nil {
		t.Fatalf("locate aws-lambda-go: %v", err)
	}
	ref, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "events", "testdata", "s3-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	want, got := s3EventKeys(t, ref), s3EventKeys(t, event)
	mayLack := []string{"Records.[].s3.object.versionId", "Records.[].s3.object.size", "Records.[].s3.object.eTag"}
	for k := range got {
		if !want[k] {
			t.Errorf("event has key %s, which aws-lambda-go's s3-event.json does not:\n%s", k, event)
		}
	}
	for k := range want {
		if !got[k] && !slices.Contains(mayLack, k) {
			t.Errorf("event lacks key %s:\n%s", k, event)
		}
	}
}

// A real versitygw (posix backend on a temp dir) posts its bucket events
// to Gust's webhook; the configured function receives S3's own events:
// keys form-encoded, S3's event names, decoded strictly by aws-lambda-go.
func TestS3EventsFromVersityGW(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("object-store events are sandbox-independent; covered by the full run")
	}
	bin := versitygwBinary(t)
	srv := gusttest.StartServer(t)
	col := newS3Collector(t)
	deployS3Function(t, srv, "s3fn", col)
	allowS3(t, srv, "s3fn", "photos")

	webhook := strings.TrimSpace(mustGust(t, srv, "s3", "webhook"))
	if want := srv.Endpoint + srv.S3Events().WebhookPath(); webhook != want {
		t.Fatalf("gust s3 webhook printed %q, want %q", webhook, want)
	}
	if out := mustGust(t, srv, "s3", "notify", "photos", "--function", "s3fn", "--events", "s3:ObjectCreated:*,s3:ObjectRemoved:*", "--id", "to-s3fn"); out != "to-s3fn\n" {
		t.Errorf("gust s3 notify printed %q, want the configuration id", out)
	}
	if show := mustGust(t, srv, "s3", "notification", "photos"); !strings.Contains(show, "to-s3fn") || !strings.Contains(show, functionARN("s3fn")) ||
		!strings.Contains(show, "s3:ObjectCreated:*,s3:ObjectRemoved:*") {
		t.Errorf("gust s3 notification shows:\n%s", show)
	}

	gw := startVersityGW(t, bin, webhook)
	gw.do(t, http.MethodPut, "photos", "", nil)
	gw.do(t, http.MethodPut, "photos", "a b+c.txt", []byte("hello world"))
	gw.do(t, http.MethodPut, "photos", "dir/ü.json", []byte("{}"))
	gw.do(t, http.MethodDelete, "photos", "a b+c.txt", nil)

	type seen struct{ name, key, decoded string }
	want := []seen{{"ObjectCreated:Put", "a+b%2Bc.txt", "a b+c.txt"}, {"ObjectCreated:Put", "dir/%C3%BC.json", "dir/ü.json"},
		{"ObjectRemoved:Delete", "a+b%2Bc.txt", "a b+c.txt"}}
	var got []seen
	gusttest.WaitFor(t, 90*time.Second, "the function to receive 3 events", func() bool {
		got = got[:0]
		for _, rep := range col.snapshot() {
			for _, r := range rep.Records {
				if !slices.Contains(got, seen{r.EventName, r.Key, r.URLDecodedKey}) {
					got = append(got, seen{r.EventName, r.Key, r.URLDecodedKey})
				}
			}
		}
		return len(got) >= len(want)
	})
	t.Logf("the function received %+v", got)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("the function did not receive %+v; it received %+v", w, got)
		}
	}
	sums := map[string]string{"a b+c.txt": md5Hex("hello world"), "dir/ü.json": md5Hex("{}")}
	for _, rep := range col.snapshot() {
		if rep.Error != "" {
			t.Errorf("invocation %s: %s", rep.RequestID, rep.Error)
		}
		checkS3Event(t, rep.Event)
		for _, r := range rep.Records {
			if r.EventVersion != "2.1" || r.Bucket != "photos" || r.BucketARN != "arn:aws:s3:::photos" || r.ConfigurationID != "to-s3fn" || r.Sequencer == "" {
				t.Errorf("record %+v: want eventVersion 2.1, bucket photos, arn:aws:s3:::photos, configurationId to-s3fn, a sequencer", r)
			}
			if r.EventName == "ObjectCreated:Put" && (r.ETag != sums[r.URLDecodedKey] || r.Size == 0) {
				t.Errorf("put of %q: eTag %q size %d, want the unquoted MD5 %s and the size", r.URLDecodedKey, r.ETag, r.Size, sums[r.URLDecodedKey])
			}
		}
	}
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// minioPut is a MinIO webhook body for "dir/ü.json" in bucket uploads.
const minioPut = `{"EventName":"s3:ObjectCreated:Put","Key":"uploads/dir/ü.json","Records":[{"eventVersion":"2.0","eventSource":"minio:s3",` +
	`"awsRegion":"","eventTime":"2025-06-01T10:30:45.123Z","eventName":"s3:ObjectCreated:Put","userIdentity":{"principalId":"minioadmin"},` +
	`"requestParameters":{"principalId":"minioadmin","region":"","sourceIPAddress":"127.0.0.1"},"responseElements":{"x-amz-id-2":"dd90",` +
	`"x-amz-request-id":"1842C1A7F1D9D0A1","x-minio-origin-endpoint":"http://127.0.0.1:9000"},"s3":{"s3SchemaVersion":"1.0","configurationId":"Config",` +
	`"bucket":{"name":"uploads","ownerIdentity":{"principalId":"minioadmin"},"arn":"arn:aws:s3:::uploads"},"object":{"key":"dir%2F%C3%BC.json",` +
	`"size":2,"eTag":"99914b932bd37a50b983c5e7c90ae93b","contentType":"application/json","userMetadata":{"content-type":"application/json"},` +
	`"sequencer":"1842C1A7F2A3B4C5"}},"source":{"host":"127.0.0.1","port":"","userAgent":"MinIO"}}]}`

// As S3 does, Gust refuses a configuration naming a function whose
// resource policy does not let s3.amazonaws.com invoke it for the bucket,
// and checks again at delivery: a function whose permission was removed
// is not invoked, and the refusal is counted.
func TestS3NotificationPermission(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("object-store events are sandbox-independent; covered by the full run")
	}
	srv := gusttest.StartServer(t)
	col := newS3Collector(t)
	deployS3Function(t, srv, "uploader", col)
	arn := functionARN("uploader")

	code, _, errOut := gust(t, srv, "s3", "notify", "uploads", "--function", "uploader")
	if code != 1 || !strings.Contains(errOut, "InvalidArgument: Unable to validate the following destination configurations") ||
		!strings.Contains(errOut, "aws lambda add-permission --function-name "+arn+" --statement-id s3-uploads --action lambda:InvokeFunction --principal s3.amazonaws.com --source-arn arn:aws:s3:::uploads") {
		t.Errorf("notify without permission: exit %d, stderr:\n%s", code, errOut)
	}
	cfg := []byte(`{"LambdaFunctionConfigurations":[{"Id":"up","LambdaFunctionArn":"` + arn + `","Events":["s3:ObjectCreated:*"]}]}`)
	put := func() (int, http.Header, string) {
		return signed(t, http.MethodPut, srv.Endpoint+"/_gust/v1/s3/buckets/uploads/notification", "lambda", srv.KeyID, srv.Secret, cfg)
	}
	// A permission for another bucket does not count.
	allowS3(t, srv, "uploader", "other")
	status, hdr, body := put()
	if status != http.StatusBadRequest || hdr.Get("X-Amzn-ErrorType") != "InvalidArgument" || !strings.Contains(body, "Unable to validate the following destination configurations") {
		t.Errorf("PUT without permission for the bucket: %d %s %s; want 400 InvalidArgument", status, hdr.Get("X-Amzn-ErrorType"), body)
	}
	allowS3(t, srv, "uploader", "uploads")
	if status, _, body := put(); status != http.StatusOK || !strings.Contains(body, `"Id":"up"`) {
		t.Fatalf("PUT with permission: %d %s", status, body)
	}

	// MinIO's payload through the webhook reaches the function as S3's event.
	webhook := srv.Endpoint + srv.S3Events().WebhookPath()
	if status, _, body := post(t, webhook, []byte(minioPut)); status != http.StatusOK || !strings.Contains(body, `"Invocations":1`) {
		t.Fatalf("webhook: %d %s, want 200 with one invocation", status, body)
	}
	gusttest.WaitFor(t, 60*time.Second, "the MinIO event to arrive", func() bool { return len(col.snapshot()) > 0 })
	rep := col.snapshot()[0]
	checkS3Event(t, rep.Event)
	if r := rep.Records; rep.Error != "" || len(r) != 1 || r[0].Key != "dir/%C3%BC.json" || r[0].EventName != "ObjectCreated:Put" || r[0].ConfigurationID != "up" {
		t.Errorf("function received %+v", rep)
	}

	// The permission is removed: the next event is refused and counted.
	if _, err := srv.Lambda().RemovePermission(t.Context(), &lambda.RemovePermissionInput{FunctionName: aws.String("uploader"), StatementId: aws.String("s3-uploads")}); err != nil {
		t.Fatal(err)
	}
	if status, _, body := post(t, webhook, []byte(minioPut)); status != http.StatusOK || !strings.Contains(body, `"Refused":1`) || !strings.Contains(body, `"Invocations":0`) {
		t.Errorf("webhook after the permission was removed: %d %s, want 200 with one refusal", status, body)
	}
	var info struct{ URL string }
	_ = json.Unmarshal([]byte(mustGust(t, srv, "s3", "webhook", "--json")), &info)
	if srv.S3Events().Stats().Refused != 1 || info.URL != webhook {
		t.Errorf("stats %+v, webhook --json URL %q; want 1 refusal and %s", srv.S3Events().Stats(), info.URL, webhook)
	}
}

// The webhook is unsigned, so its token is what keeps others out: a wrong
// one is a 403 before any body is read. The right one accepts events,
// answers probes and refuses bodies that are no event (400) or too large
// (413); the token survives a restart.
func TestS3WebhookToken(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("object-store events are sandbox-independent; covered by the full run")
	}
	srv := gusttest.StartServer(t)
	path := srv.S3Events().WebhookPath()
	good := srv.Endpoint + path
	testEvent := []byte(`{"Service":"S3","Event":"s3:TestEvent","Time":"2025-06-01T10:30:00Z","Bucket":"Test-Bucket"}`)
	for _, bad := range []string{srv.Endpoint + "/_gust/s3/events/not-the-token", good[:len(good)-1] + "A", good + "x"} {
		if bad == good {
			continue
		}
		if status, hdr, _ := post(t, bad, testEvent); status != http.StatusForbidden || hdr.Get("X-Amzn-ErrorType") != "AccessDeniedException" {
			t.Errorf("POST %s: %d %s, want 403 AccessDeniedException", bad, status, hdr.Get("X-Amzn-ErrorType"))
		}
	}
	if status, _, body := post(t, good, testEvent); status != http.StatusOK {
		t.Errorf("test event: %d %s, want 200", status, body)
	}
	if status, _, _ := post(t, good, []byte("not json")); status != http.StatusBadRequest {
		t.Errorf("a body that is no event: %d, want 400", status)
	}
	if status, _, _ := post(t, good, bytes.Repeat([]byte(" "), 1<<20+1)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over 1 MB: %d, want 413", status)
	}
	resp, err := http.Head(good)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD (a store's probe): %v %v, want 200", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if after := srv.Restart(t).S3Events().WebhookPath(); after != path {
		t.Errorf("after a restart the webhook is %s, want %s", after, path)
	}
}
