package server

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gust/internal/config"
)

// Credentials is the admin key pair: it signs as the account root, which
// may do everything, including managing IAM users and roles. When none is
// configured, a pair is generated on first start and kept in
// <data>/credentials (mode 0600) as JSON.
type Credentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// CredentialsFile is the name of the generated credentials file in the
// data dir.
const CredentialsFile = "credentials"

func loadCredentials(cfg config.Server) (Credentials, error) {
	if cfg.AccessKeyID != "" {
		return Credentials{cfg.AccessKeyID, cfg.SecretAccessKey}, nil
	}
	path := filepath.Join(cfg.DataDir, CredentialsFile)
	b, err := os.ReadFile(path)
	if err == nil {
		var c Credentials
		if err := json.Unmarshal(b, &c); err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return Credentials{}, fmt.Errorf("credentials: %s is damaged; delete it to generate a new pair", path)
		}
		return c, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, fmt.Errorf("credentials: %w", err)
	}
	c := Credentials{AccessKeyID: "AKGU" + randomString(16, upperAlnum), SecretAccessKey: randomString(40, secretAlphabet)}
	b, _ = json.MarshalIndent(c, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return Credentials{}, fmt.Errorf("credentials: %w", err)
	}
	return c, nil
}

const (
	upperAlnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// randomString draws n characters uniformly from alphabet, whose length
// must divide 256.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return sb.String()
}
