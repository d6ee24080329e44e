package testenv

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// NewPostgresServer starts a throwaway PostgreSQL cluster that belongs to
// tb alone, so tb may Stop and Start it without disturbing other tests;
// it is removed when tb ends. Its maintenance database is "postgres"; make
// more with NewDatabase. Without PostgreSQL binaries tb is skipped, or
// failed under WARDER_REQUIRE_POSTGRES=1. WARDER_TEST_DATABASE_URL does not
// apply: a server this package did not start cannot be stopped.
func NewPostgresServer(tb testing.TB) *PostgresServer {
	tb.Helper()
	s, err := startCluster()
	if err != nil {
		missingPostgres(tb, err)
	}
	tb.Cleanup(func() {
		if err := s.destroy(); err != nil {
			tb.Errorf("remove PostgreSQL cluster: %v", err)
		}
	})
	return s
}

// Stop shuts the server down the way an administrator would (pg_ctl stop
// -m fast): open sessions are ended with SQLSTATE 57P01 and new
// connections are refused until Start.
func (s *PostgresServer) Stop(tb testing.TB) {
	tb.Helper()
	if s.dir == "" {
		tb.Fatal("testenv: cannot stop a PostgreSQL server this package did not start")
	}
	if err := s.pgctl("-m", "fast", "stop"); err != nil {
		tb.Fatalf("stop PostgreSQL: %v", err)
	}
	s.stopped.Store(true)
}

// Start starts a server that Stop stopped, on the same port, and returns
// once it accepts connections.
func (s *PostgresServer) Start(tb testing.TB) {
	tb.Helper()
	if s.dir == "" {
		tb.Fatal("testenv: cannot start a PostgreSQL server this package did not start")
	}
	if err := s.pgctl("-l", filepath.Join(s.dir, "postgres.log"), "start"); err != nil {
		tb.Fatalf("start PostgreSQL: %v", err)
	}
	s.stopped.Store(false)
}

// startCluster makes a cluster in a new temporary directory and starts it
// on a free port of 127.0.0.1, trusting every local connection. fsync is
// off, for speed: the data lives only as long as the test and the machine
// does not crash meanwhile. Commits still reach the WAL in the kernel, so
// they survive a crash of PostgreSQL itself, which a test may cause.
func startCluster() (*PostgresServer, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	as, err := postgresUser()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "warder-pg-")
	if err != nil {
		return nil, err
	}
	if err := as.chown(dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &PostgresServer{dir: dir, bin: bin, as: as}
	if err := s.initdb(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.watchdog(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Another process may take the free port before the server binds it;
	// then a new one is tried. A later "port" line overrides an earlier.
	for range 3 {
		var port int
		if port, err = freeLocalPort(); err != nil {
			break
		}
		if err = s.configure(fmt.Sprintf("port = %d\n", port)); err != nil {
			break
		}
		s.admin = url.URL{Scheme: "postgres", User: url.User("postgres"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Path: "/postgres", RawQuery: "sslmode=disable"}
		if err = s.pgctl("-l", filepath.Join(dir, "postgres.log"), "start"); err == nil {
			return s, nil
		}
	}
	s.destroy()
	return nil, err
}

// initdb creates the cluster in dir/data, with its socket in dir/sock
// rather than /var/run/postgresql, which may be missing or not writable.
func (s *PostgresServer) initdb() error {
	if err := s.mkdir(s.dir, "sock"); err != nil {
		return err
	}
	out, err := s.command("initdb", "-D", filepath.Join(s.dir, "data"), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	return s.configure(fmt.Sprintf(`
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
fsync = off
max_connections = 200
`, filepath.Join(s.dir, "sock")))
}

// configure appends settings to the cluster's postgresql.conf.
func (s *PostgresServer) configure(settings string) error {
	f, err := os.OpenFile(filepath.Join(s.dir, "data", "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(settings)
	return errors.Join(err, f.Close())
}

// pgctl runs pg_ctl on the cluster, waiting (-w) for the server to be up
// or down; a failure carries pg_ctl's output and the end of the log.
func (s *PostgresServer) pgctl(args ...string) error {
	args = append([]string{"-D", filepath.Join(s.dir, "data"), "-w", "-t", "60"}, args...)
	out, err := s.command("pg_ctl", args...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
		return fmt.Errorf("pg_ctl %s: %v: %s\npostgres.log ends:\n%s", args[len(args)-1], err, out, lastBytes(log, 2000))
	}
	return nil
}

// destroy stops the server at once (-m immediate: no checkpoint, the data
// is thrown away next) and removes its directory.
func (s *PostgresServer) destroy() error {
	var stopErr error
	if _, err := os.Stat(filepath.Join(s.dir, "data", "postmaster.pid")); err == nil {
		stopErr = s.pgctl("-m", "immediate", "stop")
	}
	return errors.Join(stopErr, os.RemoveAll(s.dir))
}

// watchdog starts a shell that waits for this process to end, then stops
// the cluster and removes it, in case the test binary dies before its
// cleanup runs. It leaves as soon as the directory is gone. It runs in
// its own process group, so a ^C meant for the tests does not stop it.
func (s *PostgresServer) watchdog() error {
	const script = `while [ -d "/proc/$1" ] && [ -d "$2" ]; do sleep 1; done
[ -d "$2" ] && "$3" -D "$2/data" -m immediate -w stop >/dev/null 2>&1; rm -rf "$2"`
	cmd := exec.Command("/bin/sh", "-c", script, "watchdog", strconv.Itoa(os.Getpid()), s.dir, filepath.Join(s.bin, "pg_ctl"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.as.apply(cmd)
	// No output: an inherited pipe would keep go test waiting for it.
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start watchdog: %w", err)
	}
	go cmd.Wait() // reap it should it end first
	return nil
}

// command runs the PostgreSQL program name in dir (the test's own working
// directory may be closed to the postgres user), without PG* variables
// that could point it elsewhere.
func (s *PostgresServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
	s.as.apply(cmd)
	return cmd
}

// mkdir makes dir/name, owned by whoever runs the server.
func (s *PostgresServer) mkdir(dir, name string) error {
	p := filepath.Join(dir, name)
	if err := os.Mkdir(p, 0o700); err != nil {
		return err
	}
	return s.as.chown(p)
}
