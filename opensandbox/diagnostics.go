package opensandbox

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/warder/warder/client"
)

// Diagnostics are the agent's own: its workload's identifiers, its log's
// latest lines and its status history, inline.

const (
	diagLogLines = 1000
	diagEvents   = 200
)

type diagContext struct {
	SandboxID          string            `json:"sandboxId"`
	State              string            `json:"state,omitempty"`
	BackendType        string            `json:"backendType"`
	BackendIdentifiers map[string]string `json:"backendIdentifiers"`
}

type diagContent struct {
	SandboxID   string   `json:"sandboxId"`
	Kind        string   `json:"kind"`
	Scope       string   `json:"scope"`
	Delivery    string   `json:"delivery"`
	ContentType string   `json:"contentType"`
	Truncated   bool     `json:"truncated"`
	Content     *string  `json:"content,omitempty"`
	Length      *int64   `json:"contentLength,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
}

func (h *Handler) diagnosticContext(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	a, err := c.Agent(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	state, _ := stateOf(a)
	writeJSON(w, http.StatusOK, diagContext{SandboxID: a.ID, State: state, BackendType: "warder",
		BackendIdentifiers: map[string]string{"agentId": a.ID, "containerId": a.ContainerID, "containerName": a.ContainerName, "status": string(a.Status)}})
	return nil
}

func (h *Handler) diagnosticLogs(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	id := r.PathValue("id")
	logs, err := c.Logs(r.Context(), id, client.LogOptions{Tail: diagLogLines, Timestamps: true})
	if err != nil {
		return err
	}
	return writeDiag(w, id, "logs", r.URL.Query().Get("scope"), logs, strings.Count(logs, "\n") >= diagLogLines)
}

func (h *Handler) diagnosticEvents(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	id := r.PathValue("id")
	evs, err := c.AgentEvents(r.Context(), id, diagEvents)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%s %s -> %s by %s: %s\n", e.At.UTC().Format(time.RFC3339), e.From, e.To, e.Actor, e.Reason)
	}
	return writeDiag(w, id, "events", r.URL.Query().Get("scope"), b.String(), len(evs) >= diagEvents)
}

func writeDiag(w http.ResponseWriter, id, kind, scope, content string, truncated bool) error {
	n := int64(len(content))
	writeJSON(w, http.StatusOK, diagContent{SandboxID: id, Kind: kind, Scope: scope, Delivery: "inline", ContentType: "text/plain", Truncated: truncated, Content: &content, Length: &n})
	return nil
}
