package opensandbox

import (
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// execd serves OpenSandbox's execd API for a sandbox: Warder is the
// execd, mapping each call onto its own exec and files API, so nothing
// runs in the agent but the commands asked for.
func (h *Handler) execd(w http.ResponseWriter, r *http.Request, c *client.Client, id, path string) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	m := r.Method
	switch {
	case path == "/ping" && m == http.MethodGet:
		return h.ping(w, r, c, id)
	case path == "/command" && m == http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxJSON)
		return h.runCommand(w, r, c, id)
	case path == "/command" && m == http.MethodDelete:
		return h.interruptCommand(w, r, c, id)
	case strings.HasPrefix(path, "/command/status/") && m == http.MethodGet:
		return h.commandStatus(w, r, c, id, strings.TrimPrefix(path, "/command/status/"))
	case strings.HasPrefix(path, "/command/") && strings.HasSuffix(path, "/logs") && m == http.MethodGet:
		return h.commandLogs(w, r, c, id, strings.TrimSuffix(strings.TrimPrefix(path, "/command/"), "/logs"))
	case path == "/files/info" && m == http.MethodGet:
		return h.fileInfo(w, r, c, id)
	case path == "/files" && m == http.MethodDelete:
		return h.deleteFiles(w, r, c, id)
	case path == "/files/permissions" && m == http.MethodPost:
		return h.setPermissions(w, r, c, id)
	case path == "/files/mv" && m == http.MethodPost:
		return h.moveFiles(w, r, c, id)
	case path == "/files/search" && m == http.MethodGet:
		return h.searchFiles(w, r, c, id)
	case path == "/files/replace" && m == http.MethodPost:
		return h.replaceInFiles(w, r, c, id)
	case path == "/files/upload" && m == http.MethodPost:
		return h.uploadFiles(w, r, c, id)
	case path == "/files/download" && m == http.MethodGet:
		return h.downloadFile(w, r, c, id)
	case path == "/directories/list" && m == http.MethodGet:
		return h.listDirectory(w, r, c, id)
	case path == "/directories" && m == http.MethodPost:
		return h.createDirectory(w, r, c, id)
	case path == "/directories" && m == http.MethodDelete:
		return h.deleteDirectory(w, r, c, id)
	case path == "/metrics" && m == http.MethodGet:
		return h.metrics(w, r, c, id)
	case path == "/metrics/watch" && m == http.MethodGet:
		return h.watchMetrics(w, r, c, id)
	case strings.HasPrefix(path, "/code"):
		return apiErr(http.StatusNotImplemented, "NOT_SUPPORTED", "Warder does not offer code-interpreter contexts: run the interpreter as a command (RunCommand) in an image that has one")
	case strings.HasPrefix(path, "/session"):
		return apiErr(http.StatusNotImplemented, "NOT_SUPPORTED", "Warder does not offer shell sessions through execd: run commands with RunCommand (cwd and envs per command), or open Warder's terminal (GET /api/agents/{id}/terminal)")
	}
	return apiErr(http.StatusNotFound, "NOT_FOUND", "no execd route "+m+" "+path+" on Warder (docs/compatibility.md)")
}

// ping answers 200 while the agent runs, 503 otherwise; it does not
// resume a paused agent (everything else does).
func (h *Handler) ping(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	a, err := c.Agent(r.Context(), id)
	if err != nil {
		return err
	}
	if a.Status != wire.StatusRunning {
		return apiErr(http.StatusServiceUnavailable, "UNAVAILABLE", "the sandbox is "+string(a.Status)+", not running")
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// metrics is the agent's latest stats sample in execd's shape.
func (h *Handler) metrics(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	a, err := c.Agent(r.Context(), id)
	if err != nil {
		return err
	}
	st, err := c.Stats(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, metricsOf(a, st.Stats))
	return nil
}

// watchMetrics streams the agent's stats as execd's metrics events.
func (h *Handler) watchMetrics(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	a, err := c.Agent(r.Context(), id)
	if err != nil {
		return err
	}
	var sse *eventStream
	_, err = c.WatchStats(r.Context(), id, func(v wire.StatsView) error {
		if sse == nil {
			sse = newEventStream(w)
		}
		m := metricsOf(a, v.Stats)
		return sse.sendRaw(m)
	})
	if sse == nil && err != nil {
		return err
	}
	return nil
}

func metricsOf(a *wire.Agent, st wire.Stats) metrics {
	cpus := a.ContainerConfig.CPULimit
	if cpus <= 0 {
		cpus = float64(runtime.NumCPU())
	}
	at := st.ReadAt
	if at.IsZero() {
		at = time.Now()
	}
	return metrics{
		CPUCount: cpus, CPUUsedPct: st.CPUPercent,
		MemTotalMB: float64(st.MemoryLimitBytes) / (1 << 20), MemUsedMB: float64(st.MemoryBytes) / (1 << 20),
		Timestamp: at.UnixMilli(),
	}
}
