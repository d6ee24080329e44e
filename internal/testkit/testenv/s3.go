package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// S3Server is a SeaweedFS server (master, volume, filer and S3 gateway in
// one `weed server` process) that belongs to one test: on loopback, on
// ports of its own, with its data in a temporary directory, and one
// identity allowed everything. Buckets are made through the S3 API.
type S3Server struct {
	Endpoint  string // "http://127.0.0.1:<port>"
	AccessKey string
	SecretKey string
	Region    string
	dir       string
	cmd       *exec.Cmd
	exited    chan struct{}
	// sockets are the gRPC sockets weed makes in /tmp whatever it is
	// told (/tmp/seaweedfs-<service>-grpc-<port>.sock), removed by name.
	sockets []string
}

// s3StartTimeout bounds how long the server may take to be ready.
const s3StartTimeout = 90 * time.Second

// NewS3Server starts SeaweedFS's `weed` (named by WARDER_SEAWEEDFS, else
// found on PATH; .ci/seaweedfs.sh builds it) and returns once its S3
// gateway answers and a volume server has joined. It is stopped, and its
// directory removed, when tb ends. Without the binary tb is skipped, or
// failed under WARDER_REQUIRE_S3=1.
func NewS3Server(tb testing.TB) *S3Server {
	tb.Helper()
	bin := os.Getenv("WARDER_SEAWEEDFS")
	if bin == "" {
		bin, _ = exec.LookPath("weed")
	}
	if bin == "" {
		SkipOrFail(tb, "WARDER_REQUIRE_S3", "no SeaweedFS binary: set WARDER_SEAWEEDFS (.ci/seaweedfs.sh builds one)")
	}
	var err error
	for range 3 { // a free port may be taken before weed binds it
		var s *S3Server
		if s, err = startS3(bin); err == nil {
			tb.Cleanup(func() {
				if err := s.stop(); err != nil {
					tb.Errorf("stop SeaweedFS: %v", err)
				}
			})
			return s
		}
	}
	tb.Fatalf("start SeaweedFS: %v", err)
	return nil
}

// s3Ports names the listeners `weed server` opens; every one is given
// (those left out default to fixed ports, or to port+10000).
var s3Ports = []string{"master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
	"filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc"}

func startS3(bin string) (*S3Server, error) {
	dir, err := os.MkdirTemp("", "warder-s3-")
	if err != nil {
		return nil, err
	}
	s := &S3Server{dir: dir, AccessKey: "warder" + randHex(6), SecretKey: randHex(20), Region: "us-east-1", exited: make(chan struct{})}
	args, ports, err := s.args()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(ports["s3.port"])
	log, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer log.Close()
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.Env = s3Env()
	// Killed with the test process, should that die before Cleanup.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	if err := s.watchdog(); err == nil {
		err = s.wait(ports)
	}
	if err == nil {
		err = s.ownsPorts(ports)
	}
	if err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, "weed.log"))
		_ = s.stop()
		return nil, fmt.Errorf("%w\n%s", err, lastBytes(out, 2000))
	}
	return s, nil
}

// args is weed's command line: everything on 127.0.0.1, and nothing that
// reaches out (no telemetry; the Iceberg and Lance endpoints off).
func (s *S3Server) args() ([]string, map[string]int, error) {
	conf := map[string]any{"identities": []any{map[string]any{
		"name":        "warder",
		"credentials": []any{map[string]string{"accessKey": s.AccessKey, "secretKey": s.SecretKey}},
		"actions":     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}}
	b, _ := json.Marshal(conf)
	confPath := filepath.Join(s.dir, "s3.json")
	if err := os.WriteFile(confPath, b, 0o600); err != nil {
		return nil, nil, err
	}
	data := filepath.Join(s.dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, nil, err
	}
	args := []string{"server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir=" + data, "-filer", "-s3",
		"-s3.config=" + confPath, "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.iam=false",
		"-s3.localSocket=" + filepath.Join(s.dir, "s3.sock"), "-filer.localSocket=" + filepath.Join(s.dir, "filer.sock"),
		"-master.telemetry=false", "-master.telemetry.url=http://127.0.0.1:1/",
		"-master.volumeSizeLimitMB=256", "-volume.max=0", "-volume.preStopSeconds=0", "-metricsPort=0"}
	ports := map[string]int{}
	for _, name := range s3Ports {
		p, err := freeLocalPort()
		if err != nil {
			return nil, nil, err
		}
		ports[name] = p
		args = append(args, "-"+name+"="+strconv.Itoa(p))
		if svc, ok := strings.CutSuffix(name, ".port.grpc"); ok {
			s.sockets = append(s.sockets, fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%d.sock", svc, p))
		}
	}
	return args, ports, nil
}

// s3Env is the test's environment without what could send weed elsewhere
// (proxies, an error reporter's address, AWS settings).
func s3Env() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		k = strings.ToUpper(k)
		return strings.HasSuffix(k, "_PROXY") || strings.HasPrefix(k, "SENTRY_") || strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "WEED_")
	})
	return append(env, "SENTRY_DSN=")
}

// wait returns once the S3 gateway and the filer answer and the master
// counts free volume slots.
func (s *S3Server) wait(ports map[string]int) error {
	ctx, cancel := context.WithTimeout(context.Background(), s3StartTimeout)
	defer cancel()
	base := func(name string) string { return "http://127.0.0.1:" + strconv.Itoa(ports[name]) }
	checks := []func() error{
		func() error { return httpOK(ctx, s.Endpoint+"/healthz") },
		func() error { return httpOK(ctx, base("filer.port")+"/healthz") },
		func() error { return masterHasRoom(ctx, base("master.port")) },
	}
	for _, check := range checks {
		for {
			err := check()
			if err == nil {
				break
			}
			select {
			case <-s.exited:
				return fmt.Errorf("weed exited: %v", err)
			case <-ctx.Done():
				return fmt.Errorf("weed not ready after %s: %v", s3StartTimeout, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// ownsPorts checks that weed itself listens on the ports it was given
// that the tests reach: a free port picked here may be taken by another
// process (another test binary's SeaweedFS) before weed binds it, and
// then that one answers the readiness checks and vanishes when its test
// ends.
func (s *S3Server) ownsPorts(ports map[string]int) error {
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	if err != nil {
		return err
	}
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", s.cmd.Process.Pid, fd.Name())); err == nil {
			if ino, ok := strings.CutPrefix(l, "socket:["); ok {
				inodes[strings.TrimSuffix(ino, "]")] = true
			}
		}
	}
	for _, name := range []string{"s3.port", "filer.port", "master.port"} {
		if !listensOn(ports[name], inodes) {
			return fmt.Errorf("weed does not listen on its %s %d (another process took it first)", name, ports[name])
		}
	}
	return nil
}

// listensOn reports whether one of the sockets inodes listens on TCP
// port port (of any address), from /proc/net/tcp and tcp6.
func listensOn(port int, inodes map[string]bool) bool {
	suffix := fmt.Sprintf(":%04X", port)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
			if len(f) > 9 && strings.HasSuffix(f[1], suffix) && f[3] == "0A" && inodes[f[9]] {
				return true
			}
		}
	}
	return false
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

func masterHasRoom(ctx context.Context, master string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, master+"/dir/status", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var st struct{ Topology struct{ Max, Free int64 } }
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&st); err != nil {
		return err
	}
	if st.Topology.Free <= 0 {
		return errors.New("no volume server has joined the master yet")
	}
	return nil
}

// watchdog kills weed and removes its directory should the test process
// die before its Cleanup runs (Pdeathsig follows the thread that started
// weed, which may end first).
func (s *S3Server) watchdog() error {
	const script = `while [ -d "/proc/$1" ] && [ -d "$2" ]; do sleep 1; done
[ -d "$2" ] && kill -9 "$3" 2>/dev/null; rm -rf "$2"; shift 3; rm -f "$@"`
	args := append([]string{"-c", script, "watchdog", strconv.Itoa(os.Getpid()), s.dir, strconv.Itoa(s.cmd.Process.Pid)}, s.sockets...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start watchdog: %w", err)
	}
	go cmd.Wait()
	return nil
}

// stop kills weed and removes its directory and sockets. Its data is
// thrown away, so there is nothing to shut down gracefully (and SIGTERM
// takes weed over 10 s).
func (s *S3Server) stop() error {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	for _, p := range s.sockets {
		_ = os.Remove(p)
	}
	return os.RemoveAll(s.dir)
}

// Bucket returns a new bucket name for the test (the caller creates it).
func (s *S3Server) Bucket() string { return "warder-" + randHex(6) }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
