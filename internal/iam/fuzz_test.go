package iam

import (
	"testing"
	"time"
)

// FuzzResolveSession feeds Resolve hostile session tokens: it must never
// panic, and must accept only the tokens IssueSession issued.
func FuzzResolveSession(f *testing.F) {
	s := openStoreF(f)
	creds, err := s.IssueSession("arn:aws:iam::123456789012:role/"+DefaultRole, "fuzz", time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(creds.AccessKeyID, creds.SessionToken)
	f.Add(creds.AccessKeyID, creds.SessionToken+"A")
	f.Add(creds.AccessKeyID, "MQpBU0lBCg.")
	f.Add("ASIAAAAAAAAAAAAAAAAA", ".")
	f.Fuzz(func(t *testing.T, id, token string) {
		p, _, ok := s.Resolve(id, token)
		if ok && (id != creds.AccessKeyID || token != creds.SessionToken) && token != "" {
			t.Fatalf("Resolve(%q, %q) accepted a token never issued: %+v", id, token, p)
		}
	})
}

// openStoreF is openStore for a fuzz target.
func openStoreF(f *testing.F) *Store {
	f.Helper()
	js := startNATS(f)
	s, err := Open(f.Context(), js, Options{Account: testAccount, Admin: AccessKey{ID: adminID, Secret: adminSecret}})
	if err != nil {
		f.Fatalf("iam.Open: %v", err)
	}
	f.Cleanup(s.Close)
	return s
}
