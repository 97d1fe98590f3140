package sigv4

import "sync"

// maxSigningKeys bounds signingKeys; past it the cache starts over. A
// client's key changes once a day per region and service, so a few
// hundred entries serve many clients.
const maxSigningKeys = 1024

// signingKeys caches derived signing keys, as the SDKs do on their side:
// deriving one takes four HMAC-SHA256 computations, which every request
// would otherwise repeat. An entry is found only with the same secret,
// so a rotated secret never meets its predecessor's key. The zero value
// is ready to use.
type signingKeys struct {
	mu   sync.Mutex
	keys map[signingKeyID][]byte
}

type signingKeyID struct{ secret, date, region, service string }

// get returns the signing key of sc for secret, deriving it on a miss.
func (c *signingKeys) get(secret string, sc scope) []byte {
	id := signingKeyID{secret, sc.date, sc.region, sc.service}
	c.mu.Lock()
	key, ok := c.keys[id]
	c.mu.Unlock()
	if ok {
		return key
	}
	key = signingKey(secret, sc)
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxSigningKeys {
		c.keys = make(map[signingKeyID][]byte)
	}
	c.keys[id] = key
	c.mu.Unlock()
	return key
}
