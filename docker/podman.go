package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Podman's Docker-compatible API (podman system service) is close enough
// to Docker's for this runtime, with the differences handled here and
// listed in docs/podman.md. The runtime finds out which engine it talks
// to from the engine's version answer, once it has one.

// podmanComponent is the name Podman gives itself in GET /version.
const podmanComponent = "Podman Engine"

// engineKind remembers which engine is behind the socket. It is asked
// lazily and only a successful answer is kept, so a runtime made while
// the engine is down still finds out later.
type engineKind struct {
	mu     sync.Mutex
	known  bool
	podman bool
	// seen is podman once known, for Info, which must not wait on mu
	// while a first detection asks the engine.
	seen atomic.Bool
	// netMu has this process make Podman's internal networks one at a
	// time (podmanCreateNetwork).
	netMu sync.Mutex
}

// isPodman reports whether the engine is Podman, asking it the first time.
func (r *Runtime) isPodman(ctx context.Context) (bool, error) {
	r.engine.mu.Lock()
	defer r.engine.mu.Unlock()
	if r.engine.known {
		return r.engine.podman, nil
	}
	v, err := r.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return false, mapErr(err, "ask the engine's version")
	}
	r.engine.known, r.engine.podman = true, isPodmanVersion(v)
	r.engine.seen.Store(r.engine.podman)
	return r.engine.podman, nil
}

// isPodmanVersion reads GET /version: Podman lists itself as a component.
func isPodmanVersion(v client.ServerVersionResult) bool {
	for _, c := range v.Components {
		if c.Name == podmanComponent {
			return true
		}
	}
	return false
}

// The open-files and process limits every agent gets on Podman. Podman
// otherwise asks the OCI runtime for its own defaults (1048576 open
// files, 4194304 processes), which fail every start where the engine
// lacks CAP_SYS_RESOURCE and its own hard limits are lower; explicit
// limits in the create request replace both defaults. The values are
// well above what an agent needs (the pids limit bounds its processes
// anyway) and below common hard limits. Docker is left to its own
// defaults, as before.
const (
	podmanNofile = 16384
	podmanNproc  = 32768
)

// podmanUlimits are the explicit limits Create sets on Podman.
func podmanUlimits() []*container.Ulimit {
	return []*container.Ulimit{
		{Name: "nofile", Soft: podmanNofile, Hard: podmanNofile},
		{Name: "nproc", Soft: podmanNproc, Hard: podmanNproc},
	}
}

// podmanScratchDirs are where Podman mounts a tmpfs in every container
// with a read-only root filesystem (its read_only_tmpfs, which the
// compatible API cannot turn off): writable, executables allowed, no size
// bound. Asked for a tmpfs there itself, Podman mounts that one instead,
// so Create asks for them with /tmp's options: small, no executables.
var podmanScratchDirs = []string{"/run", "/var/tmp"}

// podmanCauses are the endings of Podman's messages for the conditions
// Docker answers with a 404 or 409 but Podman 4.3 answers, on some
// endpoints, with a 500. Podman ends each message with the cause (its
// "cause" field), so a suffix names it exactly. This is the one place
// that reads an engine's error text: the status code says nothing here.
var podmanCauses = []struct {
	suffix   string
	notFound bool // else a conflict
}{
	{": no such container", true},
	{": network not found", true},
	{": no such network", true},
	{": no such image", true},
	{": network already exists", false},
	{": that name is already in use", false},
	{": container already exists", false},
	{": name is in use", false},
}

// podmanCause classifies a 500 whose message ends with one of
// podmanCauses; found is false for any other error, Docker's included.
func podmanCause(err error) (notFound, found bool) {
	if err == nil || !cerrdefs.IsInternal(err) {
		return false, false
	}
	msg := strings.TrimSpace(err.Error())
	for _, c := range podmanCauses {
		if strings.HasSuffix(msg, c.suffix) {
			return c.notFound, true
		}
	}
	return false, false
}

// isNotFound is cerrdefs.IsNotFound, and Podman's 500s that mean it.
func isNotFound(err error) bool {
	if cerrdefs.IsNotFound(err) {
		return true
	}
	nf, ok := podmanCause(err)
	return ok && nf
}

// isConflict is cerrdefs.IsConflict, and Podman's 500s that mean it.
func isConflict(err error) bool {
	if cerrdefs.IsConflict(err) {
		return true
	}
	nf, ok := podmanCause(err)
	return ok && !nf
}

// podmanAPI is the path prefix of Podman's own API (4.0 and later), for
// the one thing its Docker-compatible API cannot do.
const podmanAPI = "/v4.0.0/libpod"

// podmanCreateNetwork makes a network through Podman's own API, with its
// DNS server off: Podman's compatible API turns it on for every bridge,
// and Podman 4.3's aardvark-dns passes any name it does not know on to
// the host's resolvers, from internal networks too, so agents without
// egress could still send data out in DNS questions. Nothing of Warder's
// needs names there: Warder reaches agents by address, agents must not
// reach each other, and on the egress network they resolve through the
// host's resolvers, as on Docker's default bridge. An existing network of
// that name is success. extra adds fields to Podman's request (labels,
// options, the bridge's name: see ensureAgentNetwork).
//
// Podman's own API gives an internal network no gateway unless it is
// given its subnet, and without one the host (Warder) has no address on
// the bridge and cannot reach the agents. So an internal network is made
// once to learn the free subnet Podman picks, removed, and made again
// with that subnet and its first address as the gateway, as Docker and
// Podman's compatible API do. This process makes one such network at a
// time (netMu); another process (a replica) may take the subnet in
// between, and then the whole is tried again, with the next free one.
func (r *Runtime) podmanCreateNetwork(ctx context.Context, name string, internal bool, extra map[string]any) error {
	if internal {
		r.engine.netMu.Lock()
		defer r.engine.netMu.Unlock()
	}
	var err error
	for range 5 {
		var again bool
		if again, err = r.podmanTryNetwork(ctx, name, internal, extra); !again {
			return err
		}
	}
	return err
}

// podmanTryNetwork is one try of podmanCreateNetwork; again reports that
// the subnet Podman picked was taken before it could be given a gateway.
func (r *Runtime) podmanTryNetwork(ctx context.Context, name string, internal bool, extra map[string]any) (again bool, err error) {
	req := map[string]any{"name": name, "driver": "bridge", "internal": internal, "dns_enabled": false}
	maps.Copy(req, extra)
	var made podmanNetwork
	if created, err := r.podmanNetworkCreate(ctx, req, &made); err != nil || !created || !internal {
		return false, err
	}
	if len(made.Subnets) != 1 || made.Subnets[0].Gateway != "" {
		return false, nil // a gateway after all, or a layout this does not know
	}
	prefix, err := netip.ParsePrefix(made.Subnets[0].Subnet)
	if err != nil {
		return false, fmt.Errorf("create network %s: Podman chose subnet %q: %w", name, made.Subnets[0].Subnet, err)
	}
	status, msg, err := r.podmanCall(ctx, http.MethodDelete, podmanAPI+"/networks/"+url.PathEscape(made.ID), nil, nil)
	if err != nil {
		return false, mapErr(err, "remove network "+name)
	} else if status/100 != 2 {
		return false, fmt.Errorf("remove network %s to give it a gateway: Podman answered %d: %s", name, status, msg)
	}
	req["subnets"] = []map[string]string{{"subnet": prefix.Masked().String(), "gateway": prefix.Masked().Addr().Next().String()}}
	_, err = r.podmanNetworkCreate(ctx, req, nil)
	return err != nil, err
}

// podmanNetwork is the part of Podman's own network record used here.
type podmanNetwork struct {
	ID         string `json:"id"`
	DNSEnabled bool   `json:"dns_enabled"`
	Subnets    []struct {
		Subnet  string `json:"subnet"`
		Gateway string `json:"gateway"`
	} `json:"subnets"`
}

// podmanNetworkCreate asks Podman's own API for a network; created is
// false (and err nil) when one of that name exists.
func (r *Runtime) podmanNetworkCreate(ctx context.Context, req map[string]any, out *podmanNetwork) (created bool, err error) {
	name, _ := req["name"].(string)
	body, err := json.Marshal(req)
	if err != nil {
		return false, err
	}
	var dst any
	if out != nil {
		dst = out
	}
	status, msg, err := r.podmanCall(ctx, http.MethodPost, podmanAPI+"/networks/create", body, dst)
	// Podman 4.3 answers 500 when a host interface it is looking at to
	// choose a free subnet goes away meanwhile ("route ip+net: no such
	// network interface", seen while other networks were being removed):
	// the same request a moment later succeeds.
	for delay := 100 * time.Millisecond; err == nil && status == http.StatusInternalServerError && delay <= 1600*time.Millisecond; delay *= 2 {
		select {
		case <-ctx.Done():
			return false, mapErr(ctx.Err(), "create network "+name)
		case <-time.After(delay):
		}
		status, msg, err = r.podmanCall(ctx, http.MethodPost, podmanAPI+"/networks/create", body, dst)
	}
	switch {
	case err != nil:
		return false, mapErr(err, "create network "+name)
	case status/100 == 2:
		return true, nil
	case status == http.StatusConflict || strings.HasSuffix(msg, ": network already exists"):
		return false, nil
	}
	return false, fmt.Errorf("create network %s: Podman answered %d: %s", name, status, msg)
}

// podmanNetworkDNS reports whether Podman runs a DNS server on a network.
func (r *Runtime) podmanNetworkDNS(ctx context.Context, id string) (bool, error) {
	var n podmanNetwork
	status, msg, err := r.podmanCall(ctx, http.MethodGet, podmanAPI+"/networks/"+url.PathEscape(id)+"/json", nil, &n)
	switch {
	case err != nil:
		return false, mapErr(err, "inspect network "+id)
	case status != http.StatusOK:
		return false, fmt.Errorf("inspect network %s: Podman answered %d: %s", id, status, msg)
	}
	return n.DNSEnabled, nil
}

// podmanCall makes one request to Podman's own API over the client's
// connection to the engine, decoding a 2xx answer into out (if not nil)
// and returning the message of any other.
func (r *Runtime) podmanCall(ctx context.Context, method, path string, body []byte, out any) (int, string, error) {
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return r.cli.Dialer()(ctx) },
	}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, method, "http://podman"+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		if out != nil {
			if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
				return resp.StatusCode, "", fmt.Errorf("%s %s: %w", method, path, err)
			}
		}
		return resp.StatusCode, "", nil
	}
	var e struct {
		Message string `json:"message"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(raw, &e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(raw))
	}
	return resp.StatusCode, e.Message, nil
}
