package s3events

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// WebhookPathPrefix is where the webhook is served: the store posts to
// WebhookPathPrefix + token. The path is unsigned (stores cannot sign
// SigV4); the token is what authenticates the store.
const WebhookPathPrefix = "/_gust/s3/events/"

// MaxWebhookBody bounds a webhook body. Stores send one record per
// request (S3 caps a notification at 64 KB), so 1 MB is generous.
const MaxWebhookBody = 1 << 20

// webhookKeyBytes is the size of the key the token is derived from.
const webhookKeyBytes = 32

// loadWebhookKey reads the webhook key, creating it if this is the first
// node: Create makes nodes starting together agree on one key, and the
// key outlives restarts, so the URL given to a store keeps working.
func loadWebhookKey(ctx context.Context, kv jetstream.KeyValue) ([]byte, error) {
	key := make([]byte, webhookKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("webhook key: %w", err)
	}
	_, err := kv.Create(ctx, webhookKeyKey, key)
	if errors.Is(err, jetstream.ErrKeyExists) {
		var e jetstream.KeyValueEntry
		if e, err = kv.Get(ctx, webhookKeyKey); err == nil {
			key = e.Value()
			if len(key) < webhookKeyBytes {
				return nil, fmt.Errorf("webhook key: stored key is %d bytes, want %d", len(key), webhookKeyBytes)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("webhook key: %w", err)
	}
	return key, nil
}

// deriveToken is the webhook token: an HMAC of a fixed label under the
// key, so the key itself never leaves the bucket.
func deriveToken(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gust s3 webhook token v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// WebhookPath is the path stores post their events to,
// /_gust/s3/events/<token>; the same on every node and across restarts.
func (s *Service) WebhookPath() string { return WebhookPathPrefix + s.token }

// ValidToken reports, in constant time, whether token is the webhook's.
func (s *Service) ValidToken(token string) bool {
	return hmac.Equal([]byte(token), []byte(s.token))
}

// randomHex is n random bytes in upper-case hex, like S3's request ids.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%X", b)
}

// randomBase64 is n random bytes in standard base64, like S3's
// x-amz-id-2.
func randomBase64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
