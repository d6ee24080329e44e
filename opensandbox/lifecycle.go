package opensandbox

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// maxTimeout is the longest time to live a create or renew may ask: a
// year, past which an expiration is a mistake rather than a plan.
const maxTimeout = 365 * 24 * time.Hour

// createSandbox makes an agent of the caller's from the request, starts
// it, and answers it Running: the SDK then finds execd at once rather
// than polling (it polls every 2 s while a sandbox is Pending).
func (h *Handler) createSandbox(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	var req createRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := refuseUnoffered(req); err != nil {
		return err
	}
	meta := sandboxMeta{Metadata: req.Metadata, Entrypoint: req.Entrypoint}
	if req.Timeout != nil {
		if *req.Timeout <= 0 || time.Duration(*req.Timeout)*time.Second > maxTimeout {
			return badRequest("timeout %d must be between 1 second and a year", *req.Timeout)
		}
		at := time.Now().UTC().Add(time.Duration(*req.Timeout) * time.Second)
		meta.ExpiresAt = &at
	}
	if req.SnapshotID != "" {
		return h.createFromSnapshot(w, r, c, req, meta)
	}
	if req.Image == nil || req.Image.URI == "" {
		return badRequest("image.uri is required (or snapshotId)")
	}
	cc := wire.ContainerConfig{Image: req.Image.URI, EnvVars: req.Env}
	if err := applyLimits(&cc, req.ResourceLimits); err != nil {
		return err
	}
	eg, err := egressOf(req.NetworkPolicy)
	if err != nil {
		return badRequest("%v", err)
	}
	cc.Egress = eg
	if cc.AutoPauseMinutes, err = idlePause(req.Lifecycle); err != nil {
		return err
	}
	a, err := c.CreateAgent(r.Context(), wire.AgentCreate{
		Name: "sandbox-" + newID(), Type: "custom",
		Description: "made through the OpenSandbox API",
		Config:      withMeta(nil, meta), ContainerConfig: cc,
	})
	if err != nil {
		return err
	}
	return startNew(w, r, c, a.ID)
}

// startNew starts a sandbox just made and answers it; one that cannot
// start is not left behind (the SDK deletes it too, but a caller that
// gave up would not).
func startNew(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	started, err := c.StartAgent(r.Context(), id)
	if err != nil {
		_ = c.DeleteAgent(background(r.Context()), id)
		return err
	}
	writeJSON(w, http.StatusAccepted, toSandbox(started))
	return nil
}

// createFromSnapshot forks the snapshot's agent into a new sandbox.
func (h *Handler) createFromSnapshot(w http.ResponseWriter, r *http.Request, c *client.Client, req createRequest, meta sandboxMeta) error {
	if req.Image != nil && req.Image.URI != "" {
		return badRequest("give image or snapshotId, not both")
	}
	snap, err := findSnapshot(r.Context(), c, req.SnapshotID)
	if err != nil {
		return err
	}
	a, err := c.ForkAgent(r.Context(), snap.AgentID, wire.ForkRequest{Name: "sandbox-" + newID(), Snapshot: snap.ID})
	if err != nil {
		return err
	}
	meta.SnapshotID = snap.ID
	upd := wire.AgentUpdate{Config: ptr(withMeta(a.Config, meta))}
	if len(req.Env) > 0 || len(req.ResourceLimits) > 0 || req.NetworkPolicy != nil {
		cc := wire.ContainerConfig{}
		if err := applyLimits(&cc, req.ResourceLimits); err != nil {
			_ = c.DeleteAgent(background(r.Context()), a.ID)
			return err
		}
		eg, err := egressOf(req.NetworkPolicy)
		if err != nil {
			_ = c.DeleteAgent(background(r.Context()), a.ID)
			return badRequest("%v", err)
		}
		upd.ContainerConfig = &wire.ContainerConfigUpdate{}
		if cc.MemoryLimit != "" {
			upd.ContainerConfig.MemoryLimit = &cc.MemoryLimit
		}
		if cc.CPULimit > 0 {
			upd.ContainerConfig.CPULimit = &cc.CPULimit
		}
		if len(req.Env) > 0 {
			env := a.ContainerConfig.EnvVars
			if env == nil {
				env = map[string]string{}
			}
			for k, v := range req.Env {
				env[k] = v
			}
			upd.ContainerConfig.EnvVars = &env
		}
		if eg != nil {
			upd.ContainerConfig.Egress = &eg
		}
	}
	if _, err := c.UpdateAgent(r.Context(), a.ID, upd); err != nil {
		_ = c.DeleteAgent(background(r.Context()), a.ID)
		return err
	}
	return startNew(w, r, c, a.ID)
}

// refuseUnoffered answers, before anything is made, what a create asks
// that Warder cannot give, rather than dropping it.
func refuseUnoffered(req createRequest) error {
	switch {
	case req.TemplateID != "":
		return apiErr(http.StatusNotImplemented, "NOT_SUPPORTED", "Warder does not offer templates: create from an image or a snapshot")
	case len(req.Volumes) > 0:
		return badRequest("volumes are not supported: each sandbox has its own workspace at /data (docs/compatibility.md)")
	case req.Image != nil && req.Image.Auth != nil:
		return badRequest("image.auth is not supported: Warder runs images already on its host (see the image policy)")
	case len(req.Entrypoint) > 0 && !slices.Equal(req.Entrypoint, keepAlive):
		return badRequest("entrypoint %q is not supported: Warder runs the image's own entrypoint (the default image keeps running by itself); build the command into the image", req.Entrypoint)
	case req.Lifecycle != nil && (req.Lifecycle["preStart"] != nil || req.Lifecycle["periodic"] != nil):
		return badRequest("lifecycle hooks are not supported; idle pause is Warder's auto_pause_minutes")
	case req.CredentialProxy != nil:
		return apiErr(http.StatusNotImplemented, "NOT_SUPPORTED", "Warder does not offer the credential proxy; provider keys stay outside agents through its LLM gateway")
	}
	return nil
}

// idlePause maps the spec's idle policy (pause after idleTimeoutSeconds)
// onto Warder's auto_pause_minutes; a request resumes the agent, as the
// policy's wake on access asks. None is Warder's default.
func idlePause(lc map[string]any) (float64, error) {
	p, _ := lc["idlePolicy"].(map[string]any)
	secs, ok := p["idleTimeoutSeconds"].(float64)
	if !ok {
		return 0, nil
	}
	if on, _ := p["onIdle"].(string); on != "" && on != "pause" {
		return 0, badRequest("lifecycle.idlePolicy.onIdle %q is not supported: Warder pauses", on)
	}
	if secs < 30 || secs > 86400 {
		return 0, badRequest("lifecycle.idlePolicy.idleTimeoutSeconds %v is not between 30 and 86400", secs)
	}
	return secs / 60, nil
}

// applyLimits sets cc's CPU and memory from Kubernetes-style limits.
func applyLimits(cc *wire.ContainerConfig, limits map[string]string) error {
	for k, v := range limits {
		switch k {
		case "cpu":
			n, err := parseCPU(v)
			if err != nil {
				return badRequest("%v", err)
			}
			cc.CPULimit = n
		case "memory":
			m, err := parseMemory(v)
			if err != nil {
				return badRequest("%v", err)
			}
			cc.MemoryLimit = m
		default:
			return badRequest("resourceLimits.%s is not supported: Warder limits cpu and memory", k)
		}
	}
	return nil
}

func (h *Handler) getSandbox(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	a, err := c.Agent(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSandbox(a))
	return nil
}

// listSandboxes lists the caller's own agents (an admin's too: the spec
// has no notion of seeing other tenants'), filtered and paged.
func (h *Handler) listSandboxes(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	q := r.URL.Query()
	pageNo, size, err := paging(q)
	if err != nil {
		return err
	}
	want := map[string]string{}
	if m := q.Get("metadata"); m != "" {
		vals, err := url.ParseQuery(m)
		if err != nil {
			return badRequest("metadata %q is not key=value pairs joined by &: %v", m, err)
		}
		for k := range vals {
			want[k] = vals.Get(k)
		}
	}
	me, err := c.Me(r.Context())
	if err != nil {
		return err
	}
	agents, err := c.ListAgents(r.Context(), client.AgentQuery{UserID: me.ID})
	if err != nil {
		return err
	}
	items := []sandboxInfo{}
	for _, a := range agents.Agents {
		s := toSandbox(a)
		if matchesStates(s, q["state"]) && matchesMetadata(s, want) {
			items = append(items, s)
		}
	}
	items, p := page(items, pageNo, size)
	writeJSON(w, http.StatusOK, listSandboxes{Items: items, Pagination: p})
	return nil
}

// paging reads page (1-based, default 1) and pageSize (default 20, at
// most 200).
func paging(q url.Values) (pageNo, size int, err error) {
	pageNo, size = 1, 20
	if v := q.Get("page"); v != "" {
		if pageNo, err = strconv.Atoi(v); err != nil || pageNo < 1 {
			return 0, 0, badRequest("page %q is not a number from 1", v)
		}
	}
	if v := q.Get("pageSize"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 || size > 200 {
			return 0, 0, badRequest("pageSize %q is not a number from 1 to 200", v)
		}
	}
	return pageNo, size, nil
}

// deleteSandbox deletes the agent with its workspace and snapshots.
func (h *Handler) deleteSandbox(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	if err := c.DeleteAgent(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	h.commands.forget(r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) pauseSandbox(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	if _, err := c.PauseAgent(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// resumeSandbox resumes a paused agent, and starts a stopped one (the
// spec has no stopped state: Warder shows it Terminated, and a resume
// brings it back).
func (h *Handler) resumeSandbox(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	id := r.PathValue("id")
	a, err := c.Agent(r.Context(), id)
	if err != nil {
		return err
	}
	switch a.Status {
	case wire.StatusPaused:
		_, err = c.ResumeAgent(r.Context(), id)
	case wire.StatusRunning:
	default:
		_, err = c.StartAgent(r.Context(), id)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// renewSandbox sets the sandbox's expiration.
func (h *Handler) renewSandbox(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	var req renewRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	now := time.Now()
	if !req.ExpiresAt.After(now) || req.ExpiresAt.Sub(now) > maxTimeout {
		return badRequest("expiresAt %s must be in the future, within a year", req.ExpiresAt.Format(time.RFC3339))
	}
	at := req.ExpiresAt.UTC()
	_, err := h.editMeta(r.Context(), c, r.PathValue("id"), func(m *sandboxMeta) { m.ExpiresAt = &at })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renewResponse{ExpiresAt: at})
	return nil
}

// patchMetadata adds, replaces (a string) and deletes (null) metadata.
func (h *Handler) patchMetadata(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	var patch map[string]*string
	if err := decode(r, &patch); err != nil {
		return err
	}
	a, err := h.editMeta(r.Context(), c, r.PathValue("id"), func(m *sandboxMeta) {
		if m.Metadata == nil {
			m.Metadata = map[string]string{}
		}
		for k, v := range patch {
			if v == nil {
				delete(m.Metadata, k)
			} else {
				m.Metadata[k] = *v
			}
		}
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSandbox(a))
	return nil
}

// editMeta changes the sandbox fields of an agent's config.
func (h *Handler) editMeta(ctx context.Context, c *client.Client, id string, edit func(*sandboxMeta)) (*wire.Agent, error) {
	a, err := c.Agent(ctx, id)
	if err != nil {
		return nil, err
	}
	m := metaOf(a.Config)
	edit(&m)
	return c.UpdateAgent(ctx, id, wire.AgentUpdate{Config: ptr(withMeta(a.Config, m))})
}

func ptr[T any](v T) *T { return &v }
