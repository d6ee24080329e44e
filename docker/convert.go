package docker

import (
	"maps"
	"net/netip"
	"sort"
	"strconv"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/warder/warder"
)

// Log rotation for every agent container, so a chatty agent cannot fill
// the host's disk: at most logMaxFiles files of logMaxSize each.
const (
	logDriver   = "json-file"
	logMaxSize  = "10m"
	logMaxFiles = "3"
)

// tmpfsOptions mount the agent's only writable place: small, and no
// executables or setuid binaries can be dropped there.
const tmpfsOptions = "rw,noexec,nosuid,nodev,size=64m"

// createRequest is everything ContainerCreate needs besides the name.
type createRequest struct {
	Config     *container.Config
	HostConfig *container.HostConfig
	Networking *network.NetworkingConfig
}

// placement is what the Docker runtime decides about a container beyond
// its spec: the network it joins, the host address and port its port is
// published on (HostPort 0: not published), and the engine's needs.
type placement struct {
	Network  string
	HostIP   string
	HostPort int
	// Ulimits are explicit resource limits the engine needs to be given
	// (Podman: podmanUlimits); nil leaves the engine's defaults.
	Ulimits []*container.Ulimit
	// ScratchDirs are directories, besides /tmp, that the engine mounts a
	// writable tmpfs on whatever it is asked (Podman: /run and /var/tmp);
	// naming them here gives them /tmp's options instead of the engine's.
	ScratchDirs []string
	// Stdin keeps the container's stdin open for one attach: how a warm
	// pool's container is told its agent (claim.go).
	Stdin bool
	// FreshWorkspace says the workspace volume was made for this create:
	// an image that declares its /data its user's (LabelWorkspaceOwner) then
	// gives the volume its owner at create, with no helper.
	FreshWorkspace bool
}

// containerConfig converts spec, placed by p, into Docker's create
// request. It is pure, so it is table-tested without an engine. It fails
// only on a spec that SpecFor would not produce: a bad port or a HostIP
// that is not an IP.
//
// A HostIP of "" publishes on all interfaces.
func containerConfig(spec warder.WorkloadSpec, p placement) (createRequest, error) {
	if spec.Port < 1 || spec.Port > 65535 {
		return createRequest{}, warder.Errorf(warder.ErrInvalid, "container port %d must be between 1 and 65535", spec.Port)
	}
	if p.HostPort < 0 || p.HostPort > 65535 {
		return createRequest{}, warder.Errorf(warder.ErrInvalid, "host port %d must be between 1 and 65535", p.HostPort)
	}
	var hostIP netip.Addr // the zero Addr is sent as "": all interfaces
	if p.HostIP != "" {
		ip, err := netip.ParseAddr(p.HostIP)
		if err != nil {
			return createRequest{}, warder.Errorf(warder.ErrInvalid, "bind address %q is not an IP address", p.HostIP)
		}
		hostIP = ip
	}
	restart, err := restartPolicy(spec.Restart)
	if err != nil {
		return createRequest{}, err
	}
	port, _ := network.PortFrom(uint16(spec.Port), network.TCP)

	cfg := &container.Config{
		Image:        spec.Image,
		Env:          envList(spec.Env),
		Labels:       maps.Clone(spec.Labels),
		ExposedPorts: network.PortSet{port: {}},
		OpenStdin:    p.Stdin,
		StdinOnce:    p.Stdin,
		AttachStdin:  p.Stdin,
	}
	pids := spec.PidsLimit
	host := &container.HostConfig{
		// Least privilege, each visible in docker inspect: no capabilities,
		// no privilege gain through setuid binaries, a read-only root
		// filesystem with a small scratch /tmp, a bounded number of
		// processes. Never privileged, no host namespaces, no mounts, no
		// devices: none of those are ever set here.
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		ReadonlyRootfs: true,
		Tmpfs:          tmpfsMounts(p.ScratchDirs),
		LogConfig: container.LogConfig{
			Type:   logDriver,
			Config: map[string]string{"max-size": logMaxSize, "max-file": logMaxFiles},
		},
		RestartPolicy: restart,
		Resources: container.Resources{
			Memory: spec.MemoryBytes,
			// Memory plus swap equal to memory: no swap at all, so an agent
			// over its limit is OOM-killed (and reported so) rather than
			// slowed down by swapping; the engine's default is twice the
			// memory. 0 leaves both unlimited.
			MemorySwap: spec.MemoryBytes,
			NanoCPUs:   spec.MilliCPUs * 1_000_000,
			PidsLimit:  &pids,
			Ulimits:    p.Ulimits,
		},
	}
	if spec.Internal {
		// Docker's embedded resolver (127.0.0.11) answers the network's
		// own names and forwards the rest to these servers; a loopback
		// address the engine was given is dialed inside the container,
		// where nothing answers, so an internal agent's questions for
		// outside names go nowhere rather than through the engine.
		host.DNS = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	}
	if spec.Workspace != nil {
		// A named volume: the one writable place that outlives the
		// container. Still no host path is ever mounted.
		host.Mounts = []mount.Mount{workspaceMount(spec.Workspace)}
	}
	if p.HostPort != 0 {
		host.PortBindings = network.PortMap{port: {{HostIP: hostIP, HostPort: strconv.Itoa(p.HostPort)}}}
	}
	var nets *network.NetworkingConfig
	if p.Network != "" {
		host.NetworkMode = container.NetworkMode(p.Network)
		nets = &network.NetworkingConfig{
			EndpointsConfig: map[string]*network.EndpointSettings{p.Network: {}},
		}
	}
	return createRequest{Config: cfg, HostConfig: host, Networking: nets}, nil
}

// tmpfsMounts is /tmp and dirs, each with tmpfsOptions.
func tmpfsMounts(dirs []string) map[string]string {
	m := map[string]string{"/tmp": tmpfsOptions}
	for _, d := range dirs {
		m[d] = tmpfsOptions
	}
	return m
}

// restartPolicy is Docker's form of a spec's policy; "" means "no". The
// engine refuses a retry count on any policy but on-failure, and so does
// this, before the engine is asked.
func restartPolicy(rp warder.RestartPolicy) (container.RestartPolicy, error) {
	var mode container.RestartPolicyMode
	switch rp.Mode {
	case "", warder.RestartNever:
		mode = container.RestartPolicyDisabled
	case warder.RestartOnFailure:
		mode = container.RestartPolicyOnFailure
	case warder.RestartUnlessStopped:
		mode = container.RestartPolicyUnlessStopped
	default:
		return container.RestartPolicy{}, warder.Errorf(warder.ErrInvalid, "restart policy %q must be no, on-failure or unless-stopped", rp.Mode)
	}
	switch {
	case rp.MaxRetries < 0:
		return container.RestartPolicy{}, warder.Errorf(warder.ErrInvalid, "maximum restart count %d is negative", rp.MaxRetries)
	case rp.MaxRetries > 0 && mode != container.RestartPolicyOnFailure:
		return container.RestartPolicy{}, warder.Errorf(warder.ErrInvalid, "a maximum restart count needs the on-failure policy, not %q", rp.Mode)
	}
	return container.RestartPolicy{Name: mode, MaximumRetryCount: rp.MaxRetries}, nil
}

// envList renders env as KEY=VALUE sorted by key, so the same spec always
// yields the same request.
func envList(env map[string]string) []string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + env[k]
	}
	return out
}
