package urlevent

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
)

// awsOnlyKeys are the keys function URLs send (see the request payload in
// the Lambda developer guide, "Invoking Lambda function URLs") that
// aws-lambda-go's LambdaFunctionURLRequest and its lambda-urls-request.json
// sample do not model.
var awsOnlyKeys = []string{
	"requestContext.authorizer.iam.cognitoIdentity",
	"requestContext.authorizer.iam.principalOrgId",
	"requestContext.routeKey",
	"requestContext.stage",
	"routeKey",
}

// dataMaps hold request data, not structure: their keys are not compared.
var dataMaps = map[string]bool{"headers": true, "queryStringParameters": true, "pathParameters": true, "stageVariables": true}

// fullEvent returns an event that uses every optional part: cookies, a
// query, a body and an IAM caller.
func fullEvent(t *testing.T) []byte {
	t.Helper()
	srv := eventServer(t, &IAMCaller{AccessKey: "AKIA", AccountID: "111122223333", CallerID: "AIDA",
		UserARN: "arn:aws:iam::111122223333:user/example-user", UserID: "AIDA"})
	req := newRequest(t, http.MethodPost, "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
		strings.NewReader("Hello from client!"))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Cookie", "cookie1=a; cookie2=b")
	return fetchEvent(t, srv, req).raw
}

func minimalEvent(t *testing.T) []byte {
	t.Helper()
	return fetchEvent(t, eventServer(t, nil), newRequest(t, http.MethodGet, "/", nil)).raw
}

func TestEventMatchesFunctionURLSample(t *testing.T) {
	sample := keyKinds(t, readSample(t, "lambda-urls-request.json"))
	full := keyKinds(t, fullEvent(t))

	for path, kind := range sample {
		got, ok := full[path]
		switch {
		case !ok:
			t.Errorf("event lacks %s, which the function URL sample has", path)
		case got != kind:
			t.Errorf("%s is a JSON %s, the sample has a %s", path, got, kind)
		}
	}
	var extra []string
	for path := range full {
		if _, ok := sample[path]; !ok {
			extra = append(extra, path)
		}
	}
	slices.Sort(extra)
	if diff := cmp.Diff(awsOnlyKeys, extra); diff != "" {
		t.Errorf("keys beyond the aws-lambda-go sample (-want +got):\n%s", diff)
	}
}

func TestEventKeysWithinHTTPAPISample(t *testing.T) {
	// The HTTP API 2.0 sample with an IAM authorizer is a superset of what a
	// function URL sends; anything of ours outside it is a key AWS never sends.
	sample := keyKinds(t, readSample(t, "apigw-v2-request-iam.json"))
	for _, raw := range [][]byte{fullEvent(t), minimalEvent(t)} {
		for path := range keyKinds(t, raw) {
			if _, ok := sample[path]; !ok {
				t.Errorf("event key %s is not in apigw-v2-request-iam.json", path)
			}
		}
	}
}

func TestMinimalEventLeavesOptionalKeysOut(t *testing.T) {
	got := keyKinds(t, minimalEvent(t))
	for _, path := range []string{"cookies", "queryStringParameters", "body", "requestContext.authorizer"} {
		if _, ok := got[path]; ok {
			t.Errorf("minimal event has %s", path)
		}
	}
	for _, path := range []string{"version", "routeKey", "rawPath", "rawQueryString", "headers", "isBase64Encoded",
		"requestContext.http.sourceIp", "requestContext.timeEpoch"} {
		if _, ok := got[path]; !ok {
			t.Errorf("minimal event lacks %s", path)
		}
	}
}

func TestEventDecodesStrictlyIntoAWSLambdaGo(t *testing.T) {
	for name, raw := range map[string][]byte{"full": fullEvent(t), "minimal": minimalEvent(t)} {
		t.Run(name, func(t *testing.T) {
			if err := decodeStrict(raw, &events.APIGatewayV2HTTPRequest{}); err != nil {
				t.Errorf("APIGatewayV2HTTPRequest: %v", err)
			}
			// LambdaFunctionURLRequest omits keys AWS sends, so a strict decode
			// must fail until exactly those keys are removed.
			stripped := withoutKeys(t, raw, awsOnlyKeys)
			var req events.LambdaFunctionURLRequest
			if err := decodeStrict(stripped, &req); err != nil {
				t.Errorf("LambdaFunctionURLRequest after removing %v: %v", awsOnlyKeys, err)
			}
			if err := decodeStrict(raw, &events.LambdaFunctionURLRequest{}); err == nil || !strings.Contains(err.Error(), "unknown field") {
				t.Errorf("strict decode of the unaltered event into LambdaFunctionURLRequest: err = %v, want an unknown field", err)
			}
			if req.Version != "2.0" || req.RequestContext.APIID != testURLID || req.RequestContext.HTTP.SourceIP != "127.0.0.1" {
				t.Errorf("decoded values wrong: %+v", req)
			}
		})
	}
}

func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// keyKinds maps every key path of a JSON document ("requestContext.http.path")
// to its JSON kind, without descending into data maps or arrays.
func keyKinds(t *testing.T, raw []byte) map[string]string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("not a JSON object: %v", err)
	}
	out := map[string]string{}
	var walk func(prefix string, obj map[string]any)
	walk = func(prefix string, obj map[string]any) {
		for k, v := range obj {
			path := prefix + k
			out[path] = kindOf(v)
			if child, ok := v.(map[string]any); ok && !dataMaps[path] {
				walk(path+".", child)
			}
		}
	}
	walk("", doc)
	return out
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	default:
		return "object"
	}
}

func withoutKeys(t *testing.T, raw []byte, paths []string) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		parts := strings.Split(path, ".")
		obj := doc
		for _, p := range parts[:len(parts)-1] {
			next, ok := obj[p].(map[string]any)
			if !ok {
				obj = nil
				break
			}
			obj = next
		}
		if obj != nil {
			delete(obj, parts[len(parts)-1])
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readSample reads a file from aws-lambda-go's events/testdata in the
// module cache.
func readSample(t *testing.T, name string) []byte {
	t.Helper()
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	if err != nil {
		t.Fatalf("locate aws-lambda-go: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "events", "testdata", name))
	if err != nil {
		t.Fatalf("read sample: %v", err)
	}
	return raw
}
