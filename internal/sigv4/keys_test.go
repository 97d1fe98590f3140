package sigv4

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestRotatedSecretIsNotServedFromTheCache: the signing keys the verifier
// keeps are keyed by secret too, so once an access key's secret changes,
// a request signed with the old one fails although its key was cached,
// and one signed with the new one passes.
func TestRotatedSecretIsNotServedFromTheCache(t *testing.T) {
	const oldSecret, newSecret = "old-secret-of-the-rotation-test-000000000", "new-secret-of-the-rotation-test-111111111"
	var current atomic.Value
	current.Store(oldSecret)
	v := &Verifier{
		Secret: func(id, _ string) (string, bool) { return current.Load().(string), id == testKey },
		Now:    func() time.Time { return testNow },
	}
	s := startVerifyServer(t, v)
	signedWith := func(secret string) verifyResult {
		c := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: secret}
		return s.do(t, signedRequest(t, "GET", s.URL+"/2015-03-31/functions", nil, nil, c, testNow))
	}
	for range 2 { // the second is served from the cache
		if res := signedWith(oldSecret); res.err != nil {
			t.Fatalf("signed with the current secret: %v", res.err)
		}
	}
	current.Store(newSecret)
	if res := signedWith(oldSecret); kindOf(res.err) != "InvalidSignatureException" {
		t.Errorf("signed with the rotated-out secret: err = %v, want InvalidSignatureException", res.err)
	}
	if res := signedWith(newSecret); res.err != nil {
		t.Errorf("signed with the new secret: %v", res.err)
	}
}
