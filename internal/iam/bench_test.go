package iam

import (
	"testing"
	"time"
)

// BenchmarkResolve measures the per-request cost of finding a signer's
// secret: a map lookup for long-term keys, two HMACs for a session.
func BenchmarkResolve(b *testing.B) {
	s, err := Open(b.Context(), startNATS(b), Options{Account: testAccount, Admin: AccessKey{ID: adminID, Secret: adminSecret}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	_, key, err := s.CreateUser(b.Context(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	creds, err := s.IssueSession("arn:aws:iam::123456789012:role/"+DefaultRole, "bench", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, id, token string }{
		{"kind=root", adminID, ""},
		{"kind=user", key.ID, ""},
		{"kind=session", creds.AccessKeyID, creds.SessionToken},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := s.Resolve(bc.id, bc.token); !ok {
					b.Fatal("not resolved")
				}
			}
		})
	}
}
