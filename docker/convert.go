package docker

import (
	"maps"
	"net/netip"
	"sort"
	"strconv"

	"github.com/moby/moby/api/types/container"
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

// containerConfig converts spec into Docker's create request. It is pure,
// so it is table-tested without an engine. It fails only on a spec that
// SpecFor would not produce: a bad port or a HostIP that is not an IP.
//
// A HostIP of "" publishes on all interfaces; a HostPort of 0 publishes
// nothing (the agent is then reachable only on its network).
func containerConfig(spec warder.ContainerSpec) (createRequest, error) {
	if spec.ContainerPort < 1 || spec.ContainerPort > 65535 {
		return createRequest{}, warder.Errorf(warder.ErrInvalid, "container port %d must be between 1 and 65535", spec.ContainerPort)
	}
	if spec.HostPort < 0 || spec.HostPort > 65535 {
		return createRequest{}, warder.Errorf(warder.ErrInvalid, "host port %d must be between 1 and 65535", spec.HostPort)
	}
	var hostIP netip.Addr // the zero Addr is sent as "": all interfaces
	if spec.HostIP != "" {
		ip, err := netip.ParseAddr(spec.HostIP)
		if err != nil {
			return createRequest{}, warder.Errorf(warder.ErrInvalid, "bind address %q is not an IP address", spec.HostIP)
		}
		hostIP = ip
	}
	restart, err := restartPolicy(spec.RestartPolicy, spec.MaxRetries)
	if err != nil {
		return createRequest{}, err
	}
	port, _ := network.PortFrom(uint16(spec.ContainerPort), network.TCP)

	cfg := &container.Config{
		Image:        spec.Image,
		Env:          envList(spec.Env),
		Labels:       maps.Clone(spec.Labels),
		ExposedPorts: network.PortSet{port: {}},
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
		Tmpfs:          map[string]string{"/tmp": tmpfsOptions},
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
			NanoCPUs:   spec.NanoCPUs,
			PidsLimit:  &pids,
		},
	}
	if spec.HostPort != 0 {
		host.PortBindings = network.PortMap{port: {{HostIP: hostIP, HostPort: strconv.Itoa(spec.HostPort)}}}
	}
	var nets *network.NetworkingConfig
	if name := spec.Network; name != "" {
		if spec.Internal {
			name = InternalNetwork(name)
		}
		host.NetworkMode = container.NetworkMode(name)
		nets = &network.NetworkingConfig{
			EndpointsConfig: map[string]*network.EndpointSettings{name: {}},
		}
	}
	return createRequest{Config: cfg, HostConfig: host, Networking: nets}, nil
}

// restartPolicy is Docker's form of a spec's policy; "" means "no". The
// engine refuses a retry count on any policy but on-failure, and so does
// this, before the engine is asked.
func restartPolicy(name string, maxRetries int) (container.RestartPolicy, error) {
	var mode container.RestartPolicyMode
	switch name {
	case "", "no":
		mode = container.RestartPolicyDisabled
	case "on-failure":
		mode = container.RestartPolicyOnFailure
	case "unless-stopped":
		mode = container.RestartPolicyUnlessStopped
	default:
		return container.RestartPolicy{}, warder.Errorf(warder.ErrInvalid, "restart policy %q must be no, on-failure or unless-stopped", name)
	}
	switch {
	case maxRetries < 0:
		return container.RestartPolicy{}, warder.Errorf(warder.ErrInvalid, "maximum restart count %d is negative", maxRetries)
	case maxRetries > 0 && mode != container.RestartPolicyOnFailure:
		return container.RestartPolicy{}, warder.Errorf(warder.ErrInvalid, "a maximum restart count needs the on-failure policy, not %q", name)
	}
	return container.RestartPolicy{Name: mode, MaximumRetryCount: maxRetries}, nil
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
