package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// postgresBin finds the directory holding initdb and pg_ctl: the one pg_ctl
// on PATH really lives in (pg_ctl looks for postgres beside itself), or
// else the newest /usr/lib/postgresql/N/bin, where Debian installs them.
func postgresBin() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(versions, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
	for _, dir := range append(dirs, versions...) {
		if isRegularFile(filepath.Join(dir, "initdb")) && isRegularFile(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	return "", errors.New("no initdb and pg_ctl on PATH or in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
}

// pgVersion is N of /usr/lib/postgresql/N/bin, 0 if it is not a number.
func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isRegularFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// runAs is the user initdb and pg_ctl run as when the tests run as root,
// which both refuse.
type runAs struct {
	uid, gid int
}

// postgresUser returns the postgres user when running as root, nil else.
func postgresUser() (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, which initdb refuses, and no postgres user to run it as: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user: %w", err)
	}
	return &runAs{uid: uid, gid: gid}, nil
}

// apply makes cmd run as the user, with no supplementary groups.
func (r *runAs) apply(cmd *exec.Cmd) {
	if r == nil {
		return
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(r.uid), Gid: uint32(r.gid)}
}

// chown hands p to the user, so the server can write there.
func (r *runAs) chown(p string) error {
	if r == nil {
		return nil
	}
	return os.Chown(p, r.uid, r.gid)
}

// freeLocalPort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freeLocalPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lastBytes returns at most the last n bytes of b, for error messages.
func lastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
