package mcp

import (
	"context"
	"fmt"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// agentRef names one agent in a tool's input.
type agentRef struct {
	Agent string `json:"agent" jsonschema:"the agent's id, or its exact name"`
}

type listAgentsIn struct {
	Status     string `json:"status,omitempty" jsonschema:"only agents in these statuses, comma-separated: created, starting, running, stopping, stopped, exited, failed, missing"`
	NamePrefix string `json:"name_prefix,omitempty" jsonschema:"only agents whose name starts with this"`
	Limit      int    `json:"limit,omitempty" jsonschema:"at most this many agents (1 to 1000, default 100)"`
}

type createAgentIn struct {
	Name        string            `json:"name" jsonschema:"the agent's name, unique among the caller's agents"`
	Description string            `json:"description,omitempty" jsonschema:"what the agent is for"`
	Type        string            `json:"type,omitempty" jsonschema:"the agent's type (default chat)"`
	Image       string            `json:"image,omitempty" jsonschema:"the container image; default the server's agent image (the server allows only its list)"`
	MemoryLimit string            `json:"memory_limit,omitempty" jsonschema:"memory limit such as 512m or 1g"`
	CPULimit    float64           `json:"cpu_limit,omitempty" jsonschema:"CPUs, such as 0.5"`
	Env         map[string]string `json:"env,omitempty" jsonschema:"environment variables"`
	Network     string            `json:"network,omitempty" jsonschema:"egress (outbound allowed) or internal (none); default the server's"`
	Start       bool              `json:"start,omitempty" jsonschema:"start the agent once it is made"`
}

type deleteAgentIn struct {
	Agent         string `json:"agent" jsonschema:"the agent's id, or its exact name"`
	KeepWorkspace bool   `json:"keep_workspace,omitempty" jsonschema:"keep the agent's workspace (/data) after it is deleted"`
}

// agentsOut is a list of agents as a tool answers it.
type agentsOut struct {
	Agents []*warder.Agent `json:"agents"`
	// More says there are more agents than Limit.
	More bool `json:"more,omitempty"`
}

func (t *tools) addReadTools(s *sdk.Server) {
	sdk.AddTool(s, &sdk.Tool{Name: "list_agents", Description: "List the caller's agents (an admin's: everyone's), oldest first, with their status.",
		Annotations: readOnlyTool("List agents")}, handler(t, t.listAgents))
	sdk.AddTool(s, &sdk.Tool{Name: "get_agent", Description: "One agent: its configuration, status, exit code, health and why its status last changed.",
		Annotations: readOnlyTool("Inspect an agent")}, handler(t, t.getAgent))
	sdk.AddTool(s, &sdk.Tool{Name: "agent_logs", Description: fmt.Sprintf("The agent's recent output (stdout and stderr), at most %d KiB: the latest lines are kept.", MaxOutputBytes>>10),
		Annotations: readOnlyTool("Read an agent's logs")}, handler(t, t.logs))
	sdk.AddTool(s, &sdk.Tool{Name: "list_files", Description: "List a directory of the agent's workspace (/data); works while the agent is stopped.",
		Annotations: readOnlyTool("List workspace files")}, handler(t, t.listFiles))
	sdk.AddTool(s, &sdk.Tool{Name: "read_file", Description: fmt.Sprintf("Read a file of the agent's workspace (/data): its first %d KiB, as text, or as base64 if it is not UTF-8.", MaxOutputBytes>>10),
		Annotations: readOnlyTool("Read a workspace file")}, handler(t, t.readFile))
}

func (t *tools) addWriteTools(s *sdk.Server) {
	sdk.AddTool(s, &sdk.Tool{Name: "create_agent", Description: "Create an agent (a container made at its first start); start=true starts it too.",
		Annotations: writeTool("Create an agent", false, false)}, handler(t, t.createAgent))
	sdk.AddTool(s, &sdk.Tool{Name: "start_agent", Description: "Start the agent (its container is made if need be) and answer it as it is then.",
		Annotations: writeTool("Start an agent", false, true)}, handler(t, t.startAgent))
	sdk.AddTool(s, &sdk.Tool{Name: "stop_agent", Description: "Stop the agent; its container, workspace and configuration are kept.",
		Annotations: writeTool("Stop an agent", false, true)}, handler(t, t.stopAgent))
	sdk.AddTool(s, &sdk.Tool{Name: "pause_agent", Description: "Pause the running agent: its processes keep their memory and its port, it uses no CPU; the next request to it (chat, exec, files...) resumes it.",
		Annotations: writeTool("Pause an agent", false, true)}, handler(t, t.pauseAgent))
	sdk.AddTool(s, &sdk.Tool{Name: "resume_agent", Description: "Resume a paused agent (a running one: nothing to do) and answer it as it is then.",
		Annotations: writeTool("Resume an agent", false, true)}, handler(t, t.resumeAgent))
	sdk.AddTool(s, &sdk.Tool{Name: "delete_agent", Description: "Delete the agent, its container and (unless keep_workspace) its workspace.",
		Annotations: writeTool("Delete an agent", true, true)}, handler(t, t.deleteAgent))
	sdk.AddTool(s, &sdk.Tool{Name: "exec", Description: fmt.Sprintf("Run a command (no shell) in the running agent and answer its output, stdout and stderr together, "+
		"at most %d KiB of it (the rest is left out and counted), and its exit code.", MaxOutputBytes>>10),
		Annotations: writeTool("Run a command in an agent", true, false)}, handler(t, t.exec))
	sdk.AddTool(s, &sdk.Tool{Name: "write_file", Description: "Write a file of the agent's workspace (/data), replacing any file there, directories made as needed. " +
		"The whole MCP request is bounded at 1 MiB.",
		Annotations: writeTool("Write a workspace file", true, true)}, handler(t, t.writeFile))
	sdk.AddTool(s, &sdk.Tool{Name: "chat", Description: "Send a message to the agent (started if need be) and answer its reply; conversation_id continues a conversation.",
		Annotations: writeTool("Chat with an agent", false, false)}, handler(t, t.chat))
}

// resolve finds the agent ref names: an id, else the caller's agent of
// that exact name (an admin may see several; then it must be an id).
func (t *tools) resolve(ctx context.Context, ref string) (*warder.Agent, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, fmt.Errorf("agent is required: an agent's id or name")
	}
	a, err := t.c.Agent(ctx, ref)
	if st := client.StatusOf(err); st != 404 && st != 400 { // 400: not an id's shape
		return a, err
	}
	page, lerr := t.c.ListAgents(ctx, client.AgentQuery{Name: ref, Limit: 2})
	switch {
	case lerr != nil:
		return nil, lerr
	case len(page.Agents) == 1:
		return page.Agents[0], nil
	case client.StatusOf(err) == 404:
		return nil, err // the API's own answer for the id
	}
	return nil, &client.Error{Status: 404, Detail: fmt.Sprintf("no agent has the id or the name %q", ref)}
}

func (t *tools) listAgents(ctx context.Context, in listAgentsIn) (*sdk.CallToolResult, any, error) {
	q := client.AgentQuery{NamePrefix: in.NamePrefix, Limit: in.Limit}
	if q.Limit == 0 {
		q.Limit = 100
	}
	for _, s := range strings.Split(in.Status, ",") {
		if s = strings.TrimSpace(s); s != "" {
			q.Statuses = append(q.Statuses, warder.Status(s))
		}
	}
	page, err := t.c.ListAgents(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	return nil, agentsOut{Agents: page.Agents, More: page.Next != ""}, nil
}

func (t *tools) getAgent(ctx context.Context, in agentRef) (*sdk.CallToolResult, any, error) {
	a, err := t.resolve(ctx, in.Agent)
	if err != nil {
		return nil, nil, err
	}
	return nil, a, nil
}

func (t *tools) createAgent(ctx context.Context, in createAgentIn) (*sdk.CallToolResult, any, error) {
	a, err := t.c.CreateAgent(ctx, wire.AgentCreate{Name: in.Name, Description: in.Description, Type: in.Type,
		ContainerConfig: warder.ContainerConfig{Image: in.Image, MemoryLimit: in.MemoryLimit, CPULimit: in.CPULimit,
			EnvVars: in.Env, Network: in.Network, AutoStart: in.Start}})
	if err != nil {
		return nil, nil, err
	}
	return nil, a, nil
}

func (t *tools) startAgent(ctx context.Context, in agentRef) (*sdk.CallToolResult, any, error) {
	return t.act(ctx, in.Agent, func(id string) error { _, err := t.c.StartAgent(ctx, id); return err })
}

func (t *tools) stopAgent(ctx context.Context, in agentRef) (*sdk.CallToolResult, any, error) {
	return t.act(ctx, in.Agent, func(id string) error { _, err := t.c.StopAgent(ctx, id); return err })
}

func (t *tools) pauseAgent(ctx context.Context, in agentRef) (*sdk.CallToolResult, any, error) {
	return t.act(ctx, in.Agent, func(id string) error { _, err := t.c.PauseAgent(ctx, id); return err })
}

func (t *tools) resumeAgent(ctx context.Context, in agentRef) (*sdk.CallToolResult, any, error) {
	return t.act(ctx, in.Agent, func(id string) error { _, err := t.c.ResumeAgent(ctx, id); return err })
}

// act does f to the agent ref names and answers the agent as it is then.
func (t *tools) act(ctx context.Context, ref string, f func(id string) error) (*sdk.CallToolResult, any, error) {
	a, err := t.resolve(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	if err := f(a.ID); err != nil {
		return nil, nil, err
	}
	if a, err = t.c.Agent(ctx, a.ID); err != nil {
		return nil, nil, err
	}
	return nil, a, nil
}

func (t *tools) deleteAgent(ctx context.Context, in deleteAgentIn) (*sdk.CallToolResult, any, error) {
	a, err := t.resolve(ctx, in.Agent)
	if err != nil {
		return nil, nil, err
	}
	if err := t.c.DeleteAgentWith(ctx, a.ID, client.DeleteOptions{KeepWorkspace: in.KeepWorkspace}); err != nil {
		return nil, nil, err
	}
	return text(fmt.Sprintf("agent %s (%s) deleted", a.Name, a.ID)), nil, nil
}

type chatIn struct {
	Agent          string `json:"agent" jsonschema:"the agent's id, or its exact name"`
	Message        string `json:"message" jsonschema:"what to say to the agent"`
	ConversationID string `json:"conversation_id,omitempty" jsonschema:"continue this conversation; leave out to start one"`
}

type chatOut struct {
	ConversationID string `json:"conversation_id"`
	Model          string `json:"model,omitempty"`
	Truncated      bool   `json:"truncated,omitempty"`
}

func (t *tools) chat(ctx context.Context, in chatIn) (*sdk.CallToolResult, any, error) {
	a, err := t.resolve(ctx, in.Agent)
	if err != nil {
		return nil, nil, err
	}
	r, err := t.c.Chat(ctx, a.ID, wire.ChatRequest{Content: in.Message, ConversationID: in.ConversationID})
	if err != nil {
		return nil, nil, err
	}
	reply, cut := head(r.Content, MaxOutputBytes)
	note := ""
	if cut {
		note = fmt.Sprintf("[the reply was %d bytes; the first %d are shown]", len(r.Content), len(reply))
	}
	return text(reply, note), chatOut{ConversationID: r.ConversationID, Model: r.Model, Truncated: cut}, nil
}
