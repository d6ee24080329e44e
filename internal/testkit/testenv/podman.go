package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// podmanService is the private Podman API service a test binary starts on
// first use: its own socket, storage, run directory and network configs,
// all under one temporary directory, beside (never touching) Docker.
type podmanService struct {
	dir    string
	socket string
	cmd    *exec.Cmd
	exited chan struct{}
	// hostBefore is what the service may leave on the host (iptables
	// chains, cgroups), as it was before it started; StopPodman removes
	// whatever it added.
	hostBefore podmanHostState
}

var podman struct {
	mu  sync.Mutex
	svc *podmanService
	err error
}

// Podman returns the DOCKER_HOST-style address ("unix:///...") of a
// private Podman service, started on the first call in this test binary
// and stopped by StopPodman, which the binary's TestMain must call. It
// skips tb unless podman is installed and the tests run as root (rootful
// Podman, the engine Warder supports); with WARDER_REQUIRE_PODMAN=1 that
// fails tb instead. Nothing is pulled: tests put their images into it.
func Podman(tb testing.TB) string {
	tb.Helper()
	podman.mu.Lock()
	defer podman.mu.Unlock()
	if podman.svc == nil && podman.err == nil {
		podman.svc, podman.err = startPodman()
	}
	if podman.err == nil {
		return "unix://" + podman.svc.socket
	}
	if os.Getenv("WARDER_REQUIRE_PODMAN") == "1" {
		tb.Fatalf("Podman is required (WARDER_REQUIRE_PODMAN=1) but unusable: %v", podman.err)
	}
	tb.Skipf("Podman is unusable (install it with apt-get install podman, or set WARDER_REQUIRE_PODMAN=1 to fail instead): %v", podman.err)
	return ""
}

// PodmanCLI runs the podman command line against the service started by
// Podman, as an operator would from outside Warder, and returns its output.
func PodmanCLI(tb testing.TB, args ...string) string {
	tb.Helper()
	host := Podman(tb)
	out, err := exec.Command("podman", append([]string{"--remote", "--url", host}, args...)...).CombinedOutput()
	if err != nil {
		tb.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// StopPodman stops the service Podman started, if any, and removes its
// directory and what it added to the host. Tests remove their own
// containers, networks and images first; what is left is reported.
func StopPodman() error {
	podman.mu.Lock()
	defer podman.mu.Unlock()
	svc := podman.svc
	podman.svc, podman.err = nil, errors.New("stopped")
	if svc == nil {
		return nil
	}
	return svc.stop()
}

// podmanShell runs in a mount namespace of its own: a fresh tmpfs on /run
// keeps everything Podman and its OCI runtime put there (network
// namespaces, runc state, locks) out of the host's /run and gone with
// the namespace; the host's iptables lock is kept, so netavark's rule
// changes and Docker's still take turns.
const podmanShell = `set -e
mkdir -p "$D/hostrun"
mount --bind /run "$D/hostrun"
mount -t tmpfs -o mode=755,size=64m warder-podman-run /run
if [ -e "$D/hostrun/xtables.lock" ]; then
  touch /run/xtables.lock
  mount --bind "$D/hostrun/xtables.lock" /run/xtables.lock
fi
umount -l "$D/hostrun"
exec podman --root "$D/root" --runroot "$D/runroot" --tmpdir "$D/tmp" \
  --network-config-dir "$D/networks" --volumepath "$D/volumes" \
  --storage-driver vfs --cgroup-manager cgroupfs --events-backend file \
  system service --time=0 "unix://$D/podman.sock"
`

func startPodman() (*podmanService, error) {
	if _, err := exec.LookPath("podman"); err != nil {
		return nil, fmt.Errorf("podman is not installed: %w", err)
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return nil, fmt.Errorf("unshare (util-linux) is not installed: %w", err)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the Podman tests run rootful Podman and need root")
	}
	dir, err := os.MkdirTemp("", "warder-podman-")
	if err != nil {
		return nil, err
	}
	s := &podmanService{dir: dir, socket: filepath.Join(dir, "podman.sock"), exited: make(chan struct{})}
	if s.hostBefore, err = readPodmanHostState(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Podman's own configuration files, so the host's (if any) play no part.
	// exit_command_delay: an exec session's conmon otherwise stays 5 min
	// after the exec ends, holding the service's cgroups.
	conf := "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nexit_command_delay = 5\n" +
		"events_logfile_path = \"" + filepath.Join(dir, "events.log") + "\"\n"
	storage := "[storage]\ndriver = \"vfs\"\ngraphroot = \"" + filepath.Join(dir, "root") +
		"\"\nrunroot = \"" + filepath.Join(dir, "runroot") + "\"\n"
	for name, body := range map[string]string{"containers.conf": conf, "storage.conf": storage, "registries.conf": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	log, err := os.Create(filepath.Join(dir, "service.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer log.Close()
	s.cmd = exec.Command("unshare", "--mount", "--propagation", "private", "--", "sh", "-c", podmanShell)
	s.cmd.Env = append(os.Environ(), "D="+dir,
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF="+filepath.Join(dir, "registries.conf"))
	s.cmd.Stdout, s.cmd.Stderr = log, log
	// Its own process group, so a Ctrl-C meant for go test reaches it
	// only through StopPodman.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start podman system service: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(30 * time.Second); err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, "service.log"))
		s.stop()
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	return s, nil
}

// waitReady waits until the service answers GET /_ping on its socket.
func (s *podmanService) waitReady(within time.Duration) error {
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", s.socket)
		},
	}}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(within)
	for {
		resp, err := hc.Get("http://podman/_ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("ping: %s", resp.Status)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("podman system service exited: %v", s.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("podman system service did not answer within %s: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the service (SIGTERM, then SIGKILL after 30 s), removes its
// directory, and undoes what it added to the host.
func (s *podmanService) stop() error {
	var errs []error
	if s.cmd.Process != nil {
		errs = append(errs, s.removeLeftovers())
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
			errs = append(errs, errors.New("podman system service ignored SIGTERM for 30 s and was killed"))
		}
	}
	if err := s.endLingering(10 * time.Second); err != nil {
		errs = append(errs, err)
	}
	if err := s.hostBefore.restore(); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", s.dir, err))
	}
	return errors.Join(errs...)
}

// removeLeftovers force-removes, by id, every container and network (but
// Podman's default one) still in the service's private storage, and says
// so: tests must remove what they make. Images go with the storage.
func (s *podmanService) removeLeftovers() error {
	run := func(args ...string) (string, error) {
		out, err := exec.Command("podman", append([]string{"--remote", "--url", "unix://" + s.socket}, args...)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("podman %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	var errs []error
	ids, err := run("ps", "-aq", "--no-trunc")
	if err != nil {
		return err
	}
	if ids != "" {
		list := strings.Fields(ids)
		errs = append(errs, fmt.Errorf("podman: the tests left %d containers: %v", len(list), list))
		if _, err := run(append([]string{"rm", "-f", "-t", "0"}, list...)...); err != nil {
			errs = append(errs, err)
		}
	}
	nets, err := run("network", "ls", "-q", "--filter", "name=^warder")
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if nets != "" {
		list := strings.Fields(nets)
		errs = append(errs, fmt.Errorf("podman: the tests left networks %v", list))
		if _, err := run(append([]string{"network", "rm", "-f"}, list...)...); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// endLingering ends the service's helpers that outlive it (conmon of an
// exec session stays exit_command_delay after the exec): each process
// whose command line names the service's directory, which only the
// service's own children do, by pid, SIGTERM first.
func (s *podmanService) endLingering(within time.Duration) error {
	find := func() []int {
		var pids []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err == nil && strings.Contains(string(cmd), s.dir+"/") {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	pids := find()
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(within)
	for len(pids) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		pids = find()
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if len(pids) > 0 {
		return fmt.Errorf("podman: processes %v ignored SIGTERM for %s and were killed", pids, within)
	}
	return nil
}
