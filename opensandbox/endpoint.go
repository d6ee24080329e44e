package opensandbox

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/warder/warder/client"
	"github.com/warder/warder/secret"
)

// The ports a sandbox's endpoints reach: execd and the egress sidecar
// are served by Warder itself; any other port must be the agent's own
// (container_config.port), reached through Warder's proxy.
const (
	execdPort  = 44772
	egressPort = 18080
)

// tokenHeader carries an endpoint's token on data-plane requests. The
// SDKs send an endpoint's headers with every request to it, in direct
// and server-proxy mode alike.
const tokenHeader = "X-Warder-Sandbox-Token"

// tokenTTL bounds how long an endpoint's token works; the SDKs cache an
// endpoint for 10 minutes by default. The credential sealed in it is
// checked again on each use, so a revoked key stops it at once.
const tokenTTL = 24 * time.Hour

// sealer seals endpoint tokens: the caller's credential, bound to one
// sandbox and port and an expiry, encrypted and authenticated (AES-GCM,
// package secret) with a key only the server holds. A token is no more
// than the credential it was made from, narrowed to one sandbox's data
// plane; the credential itself never appears in an answer.
type sealer struct{ box *secret.Box }

func newSealer(key []byte) (*sealer, error) {
	box, err := secret.NewBox(key)
	if err != nil {
		return nil, fmt.Errorf("opensandbox: the endpoint key: %w", err)
	}
	return &sealer{box: box}, nil
}

type tokenBody struct {
	Cred    string
	Sandbox string
	Port    int
	Expires int64
}

func (s *sealer) seal(t tokenBody) string {
	sealed, _ := s.box.Seal(map[string]string{"c": t.Cred, "s": t.Sandbox, "p": strconv.Itoa(t.Port), "e": strconv.FormatInt(t.Expires, 10)})
	return sealed
}

var errToken = errors.New("the endpoint token is not valid for this sandbox and port (get the endpoint again)")

func (s *sealer) open(token, sandbox string, port int, now time.Time) (string, error) {
	m, err := s.box.Open(token)
	if err != nil || token == "" {
		return "", errToken
	}
	exp, err := strconv.ParseInt(m["e"], 10, 64)
	if err != nil || m["s"] != sandbox || m["p"] != strconv.Itoa(port) || now.Unix() > exp || m["c"] == "" {
		return "", errToken
	}
	return m["c"], nil
}

// getEndpoint answers where a port of the sandbox is reached: a URL on
// this server, and the header that authenticates requests to it.
func (h *Handler) getEndpoint(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	id := r.PathValue("id")
	port, err := strconv.Atoi(r.PathValue("port"))
	if err != nil || port < 1 || port > 65535 {
		return badRequest("port %q is not between 1 and 65535", r.PathValue("port"))
	}
	a, err := c.Agent(r.Context(), id)
	if err != nil {
		return err
	}
	if port != execdPort && port != egressPort && port != a.ContainerConfig.Port {
		return apiErr(http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("port %d of the sandbox is not reachable: Warder reaches execd (%d), the egress policy (%d) and the agent's own port (%d)", port, execdPort, egressPort, a.ContainerConfig.Port))
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	token := h.sealer.seal(tokenBody{Cred: lifecycleCredential(r), Sandbox: id, Port: port, Expires: time.Now().Add(tokenTTL).Unix()})
	writeJSON(w, http.StatusOK, endpoint{
		Endpoint: fmt.Sprintf("%s://%s%s/v1/sandboxes/%s/proxy/%d", scheme, r.Host, Prefix, id, port),
		Headers:  map[string]string{tokenHeader: token},
	})
	return nil
}

// dataPlane serves a request to an endpoint: execd and the egress
// policy here, the agent's own port through Warder's proxy. It takes
// the endpoint's token, or (server-proxy mode) the API key itself.
func (h *Handler) dataPlane(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	port, err := strconv.Atoi(r.PathValue("port"))
	if err != nil {
		h.writeErr(w, r, badRequest("port %q is not a number", r.PathValue("port")))
		return
	}
	cred := lifecycleCredential(r)
	if tok := r.Header.Get(tokenHeader); tok != "" {
		if cred, err = h.sealer.open(tok, id, port, time.Now()); err != nil {
			h.writeErr(w, r, apiErr(http.StatusUnauthorized, "UNAUTHORIZED", err.Error()))
			return
		}
	}
	if cred == "" {
		h.writeErr(w, r, apiErr(http.StatusUnauthorized, "UNAUTHORIZED", "send the endpoint's "+tokenHeader+" header (GET /v1/sandboxes/{id}/endpoints/{port})"))
		return
	}
	c := h.client(cred)
	path := "/" + r.PathValue("path")
	var fn func(http.ResponseWriter, *http.Request, *client.Client, string, string) error
	switch port {
	case execdPort:
		fn = h.execd
	case egressPort:
		fn = h.egressSidecar
	default:
		fn = h.proxyPort(port)
	}
	if err := fn(w, r, c, id, path); err != nil {
		h.writeErr(w, r, err)
	}
}

// proxyPort passes a request on to the agent's own port through
// Warder's proxy route, which checks the caller, wakes a paused agent
// and bounds the exchange; the answer is streamed back as it comes.
func (h *Handler) proxyPort(port int) func(http.ResponseWriter, *http.Request, *client.Client, string, string) error {
	return func(w http.ResponseWriter, r *http.Request, c *client.Client, id, path string) error {
		a, err := c.Agent(r.Context(), id)
		if err != nil {
			return err
		}
		if port != a.ContainerConfig.Port {
			return apiErr(http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("port %d is not the agent's port (%d)", port, a.ContainerConfig.Port))
		}
		hdr := r.Header.Clone()
		for _, k := range []string{tokenHeader, "OPEN-SANDBOX-API-KEY", "X-API-Key", "Authorization", "Cookie"} {
			hdr.Del(k) // Warder's credentials never reach the agent
		}
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		resp, err := c.Proxy(r.Context(), id, r.Method, path, r.Body, hdr)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(flushWriter{w}, resp.Body)
		return nil
	}
}

// flushWriter flushes after each write, so a streamed answer streams.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

// egressSidecar serves the egress sidecar's /policy routes with the
// lifecycle API's network policy.
func (h *Handler) egressSidecar(w http.ResponseWriter, r *http.Request, c *client.Client, id, path string) error {
	if strings.TrimSuffix(path, "/") != "/policy" {
		return apiErr(http.StatusNotImplemented, "NOT_SUPPORTED", "Warder's egress endpoint serves /policy only; the credential vault is not offered")
	}
	r.SetPathValue("id", id)
	r.Body = http.MaxBytesReader(w, r.Body, maxJSON)
	switch r.Method {
	case http.MethodGet:
		return h.getPolicy(w, r, c)
	case http.MethodPatch:
		return h.patchPolicy(w, r, c)
	case http.MethodDelete:
		return h.deletePolicyRules(w, r, c)
	}
	return apiErr(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method+" is not allowed on /policy")
}
