// Package pgtest runs a private PostgreSQL cluster for tests: initdb in a
// new temporary directory, wal_level=logical, listening on a free loopback
// port with its socket in that directory. When the process runs as root
// (which initdb refuses), the cluster runs as the "postgres" system user.
// It starts no goroutines; Stop ends the server and removes the directory.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNoPostgres says that initdb and pg_ctl were not found: on PATH nor
// under /usr/lib/postgresql/*/bin.
var ErrNoPostgres = errors.New("pgtest: initdb and pg_ctl not found (install PostgreSQL's server package)")

// Cluster is a running private cluster.
type Cluster struct {
	// URL connects as the superuser "postgres" to database "postgres".
	URL  string
	base string // the temporary directory: data/, the socket, the log
	bin  string // the directory of initdb and pg_ctl
	cred *syscall.Credential
}

// Start creates and starts a cluster.
func Start() (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	if c.cred, err = runAs(); err != nil {
		return nil, err
	}
	if c.base, err = os.MkdirTemp("", "gust-pg-"); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(c.base, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			_ = os.RemoveAll(c.base)
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	if err := c.initAndStart(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.base, "log"))
		_ = c.Stop()
		return nil, fmt.Errorf("%w\n%s", err, log)
	}
	return c, nil
}

func (c *Cluster) initAndStart() error {
	data := filepath.Join(c.base, "data")
	if err := c.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s "+
		"-c wal_level=logical -c max_replication_slots=32 -c max_wal_senders=32 "+
		"-c fsync=off -c full_page_writes=off -c synchronous_commit=off", port, c.base)
	if err := c.run("pg_ctl", "-D", data, "-l", filepath.Join(c.base, "log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		return err
	}
	c.URL = "postgres://postgres@127.0.0.1:" + strconv.Itoa(port) + "/postgres?sslmode=disable"
	return nil
}

// Stop stops the server at once and removes its directory.
func (c *Cluster) Stop() error {
	var err error
	if _, statErr := os.Stat(filepath.Join(c.base, "data", "postmaster.pid")); statErr == nil {
		err = c.run("pg_ctl", "-D", filepath.Join(c.base, "data"), "-m", "immediate", "-w", "stop")
	}
	return errors.Join(err, os.RemoveAll(c.base))
}

// Exec runs SQL statements (several, separated by semicolons) as the
// superuser.
func (c *Cluster) Exec(ctx context.Context, sql string) error {
	conn, err := pgconn.Connect(ctx, c.URL)
	if err != nil {
		return fmt.Errorf("pgtest: connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
		return fmt.Errorf("pgtest: %s: %w", sql, err)
	}
	return nil
}

// Query runs one statement and returns its rows as text.
func (c *Cluster) Query(ctx context.Context, sql string) ([][]string, error) {
	conn, err := pgconn.Connect(ctx, c.URL)
	if err != nil {
		return nil, fmt.Errorf("pgtest: connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	res := conn.ExecParams(ctx, sql, nil, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, fmt.Errorf("pgtest: %s: %w", sql, res.Err)
	}
	out := make([][]string, len(res.Rows))
	for i, row := range res.Rows {
		for _, v := range row {
			out[i] = append(out[i], string(v))
		}
	}
	return out, nil
}

// run runs one of the server's programs as the cluster's user.
func (c *Cluster) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.base
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: %s: %w\n%s", name, err, out)
	}
	return nil
}

// findBin finds the directory holding initdb and pg_ctl.
func findBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.Sort(found) // one-digit and two-digit versions sort apart; any works
	if len(found) == 0 {
		return "", ErrNoPostgres
	}
	return filepath.Dir(found[len(found)-1]), nil
}

// runAs is the credential the cluster runs under: none (the current user)
// unless the process is root, then the postgres user's.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root needs a postgres user to run the cluster as: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
