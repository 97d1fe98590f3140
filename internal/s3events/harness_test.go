package s3events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"gust/internal/iam/policy"
	"gust/internal/invoke"
	"gust/internal/lambda"
	"gust/internal/natsd"
	"gust/internal/store"
)

var testID = lambda.Identity{Region: "us-east-1", Account: "123456789012"}

func fnARN(name string) string { return testID.FunctionARN(name) }

// startNATS starts an embedded NATS in a temp dir.
func startNATS(t *testing.T) *natsd.Conn {
	t.Helper()
	conn, err := natsd.Open(t.Context(), natsd.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("natsd.Open: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// recorder is an Invoker that records Event invocations; err, when set
// for a function name, is returned instead.
type recorder struct {
	mu    sync.Mutex
	calls []invoke.Request
	errs  map[string]error
}

func (r *recorder) Invoke(_ context.Context, req invoke.Request) (*invoke.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.errs[req.FunctionName]; err != nil {
		return nil, err
	}
	r.calls = append(r.calls, req)
	return &invoke.Response{StatusCode: 202}, nil
}

func (r *recorder) snapshot() []invoke.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// policies is a Policies of resource policy documents by "name:qualifier"
// (qualifier "" for the function's own).
type policies struct {
	mu   sync.Mutex
	docs map[string]*policy.Document
	err  error
}

func (p *policies) GetPolicy(_ context.Context, name, qualifier string) (*policy.Document, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return nil, "", p.err
	}
	if qualifier == lambda.LatestVersion {
		qualifier = ""
	}
	doc, ok := p.docs[name+":"+qualifier]
	if !ok {
		return nil, "", store.ErrNotFound
	}
	return doc, "rev", nil
}

func (p *policies) set(t *testing.T, name, qualifier, doc string) {
	t.Helper()
	d, err := policy.ParseResource([]byte(doc))
	if err != nil {
		t.Fatalf("parse policy: %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.docs[name+":"+qualifier] = d
}

func (p *policies) remove(name, qualifier string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.docs, name+":"+qualifier)
}

// allowS3 is the policy `aws lambda add-permission --principal
// s3.amazonaws.com --source-arn arn:aws:s3:::<bucket>` writes for
// resource.
func allowS3(resource, bucket string) string {
	return `{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"s3","Effect":"Allow",` +
		`"Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + resource + `",` +
		`"Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::` + bucket + `"}}}]}`
}

// fixture is one service on its own NATS with fakes around it.
type fixture struct {
	svc  *Service
	inv  *recorder
	pols *policies
	conn *natsd.Conn
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{inv: &recorder{errs: map[string]error{}}, pols: &policies{docs: map[string]*policy.Document{}}, conn: startNATS(t)}
	f.svc = f.open(t)
	return f
}

// open opens another Service (another node) on the fixture's NATS.
func (f *fixture) open(t *testing.T) *Service {
	t.Helper()
	svc, err := Open(t.Context(), Options{JS: f.conn.JS, Identity: testID, Invoker: f.inv, Policies: f.pols})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

// readFixture reads testdata/name.
func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := readFixtureFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readFixtureFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", name))
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// referenceKeys is the key set of aws-lambda-go's own S3 event fixture,
// events/testdata/s3-event.json, read from the module cache.
var referenceKeys = sync.OnceValues(func() (map[string]bool, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "events", "testdata", "s3-event.json"))
	if err != nil {
		return nil, err
	}
	return keySet(b)
})

// keySet lists every object key of a JSON document as a dotted path
// (array elements as "[]").
func keySet(doc []byte) (map[string]bool, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
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
	return set, nil
}

// checkEvent asserts that payload is an event as AWS sends it: it
// decodes into aws-lambda-go's events.S3Event with unknown fields
// disallowed, and its keys are aws-lambda-go's fixture's, less those
// allowed to be absent (size and eTag of removals, versionId of
// unversioned buckets).
func checkEvent(t *testing.T, payload []byte, mayLack ...string) events.S3Event {
	t.Helper()
	ev := decodeStrict(t, payload)
	ref, err := referenceKeys()
	if err != nil {
		t.Fatalf("aws-lambda-go's s3-event.json: %v", err)
	}
	got, err := keySet(payload)
	if err != nil {
		t.Fatal(err)
	}
	for k := range got {
		if !ref[k] {
			t.Errorf("event has key %s, which aws-lambda-go's s3-event.json does not", k)
		}
	}
	for k := range ref {
		if !got[k] && !slices.Contains(mayLack, k) {
			t.Errorf("event lacks key %s of aws-lambda-go's s3-event.json\n%s", k, payload)
		}
	}
	return ev
}

// decodeStrict decodes payload into events.S3Event, unknown fields
// disallowed.
func decodeStrict(t *testing.T, payload []byte) events.S3Event {
	t.Helper()
	var ev events.S3Event
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("event does not decode strictly into events.S3Event: %v\n%s", err, payload)
	}
	return ev
}

// isKind reports whether err is a *lambda.Error of kind k.
func isKind(err error, k lambda.Kind) bool {
	var e *lambda.Error
	return errors.As(err, &e) && e.Kind == k
}
