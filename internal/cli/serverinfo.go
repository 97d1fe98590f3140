package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gust/internal/server"
)

// serverInfoFile is written into the data dir while `gust server` runs, so
// client commands started in the same directory find it.
const serverInfoFile = "server.json"

// credentialsFile is where the server keeps the key pair it generated.
const credentialsFile = server.CredentialsFile

// serverInfo is the content of <data>/server.json.
type serverInfo struct {
	Endpoint        string `json:"endpoint"`
	Region          string `json:"region"`
	AccountID       string `json:"accountId,omitempty"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	PID             int    `json:"pid"`
}

// readServerInfo reads <dataDir>/server.json; a missing file is an error
// matching os.ErrNotExist.
func readServerInfo(dataDir string) (*serverInfo, error) {
	path := filepath.Join(dataDir, serverInfoFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read server info: %w", err)
	}
	var info serverInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("read server info %s: %w", path, err)
	}
	if info.Endpoint == "" {
		return nil, fmt.Errorf("read server info %s: no endpoint", path)
	}
	return &info, nil
}

// writeServerInfo writes <dataDir>/server.json with mode 0600, replacing
// any previous file atomically.
func writeServerInfo(dataDir string, info serverInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("write server info: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("write server info: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, serverInfoFile+".*")
	if err != nil {
		return fmt.Errorf("write server info: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write server info: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write server info: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write server info: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dataDir, serverInfoFile)); err != nil {
		return fmt.Errorf("write server info: %w", err)
	}
	return nil
}

// removeServerInfo deletes <dataDir>/server.json if it still belongs to
// pid, so a server never removes the file of another one.
func removeServerInfo(dataDir string, pid int) error {
	info, err := readServerInfo(dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil && info.PID != pid {
		return nil
	}
	// A file we cannot parse is ours to clean up too: we wrote last.
	if err := os.Remove(filepath.Join(dataDir, serverInfoFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove server info: %w", err)
	}
	return nil
}

// readStoredCredentials reads the key pair the server generated on first
// start and keeps in <data>/credentials.
func readStoredCredentials(dataDir string) (*server.Credentials, error) {
	path := filepath.Join(dataDir, credentialsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	var c server.Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read credentials %s: %w", path, err)
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return nil, fmt.Errorf("read credentials %s: empty key pair", path)
	}
	return &c, nil
}
