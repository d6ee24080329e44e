// Package mcp is Warder's Model Context Protocol server: tools that list,
// inspect, create, start, stop and delete agents, run commands in them,
// read and write their workspaces, chat with them and read their logs,
// for AI agents and their frameworks. It is served over stdio by
// `warder mcp` and over streamable HTTP at POST /api/mcp.
//
// Every tool is one or two calls of Warder's HTTP API through the Go
// client, with the caller's own credential: against WARDER_URL for
// stdio, and against the server's own handler, in process, for
// /api/mcp. So ownership, quotas, read-only keys, the API's bounds and
// the audit log are the API's own code, not a second copy; what this
// package adds is the bounds of what a tool answers (MaxOutputBytes).
package mcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/warder/warder/client"
)

// MaxOutputBytes bounds the text a tool answers with: exec output, a
// file read, logs, a chat answer. Past it the rest is left out and the
// answer says so; an exec is still read to its end for its exit code.
const MaxOutputBytes = 1 << 20

// Version is the version the server reports in its implementation info.
const Version = "1"

// NewServer returns an MCP server whose tools call Warder through c. With
// readOnly (a read-only API key) it has only the tools that change
// nothing; the API would refuse the others anyway. Every tool's context
// also ends with life, the request or process the server serves.
func NewServer(life context.Context, c *client.Client, readOnly bool) *sdk.Server {
	s := sdk.NewServer(&sdk.Implementation{Name: "warder", Title: "Warder", Version: Version}, &sdk.ServerOptions{
		Instructions: "Warder runs AI-agent containers. Agents are named by id or by name. " +
			"The default agent image has no shell: exec runs /warder-agent ls|cat|env|echo|mkdir|rm|du|write|sleep|tick. " +
			"Workspace paths are relative to /data.",
	})
	t := &tools{c: c, life: life}
	t.addReadTools(s)
	if !readOnly {
		t.addWriteTools(s)
	}
	addLogsResource(s, t)
	return s
}

// tools holds what every tool handler needs.
type tools struct {
	c    *client.Client
	life context.Context
}

// bind ties ctx to t.life too: a tool call ends when the MCP request that
// made it ends (an HTTP request whose credential was revoked, say), even
// if the SDK gave it a context of its own.
func (t *tools) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(t.life, cancel)
	return ctx, func() { stop(); cancel() }
}

// toolError turns an API error into the error a tool reports (an MCP tool
// result with isError): the API's detail first, then its status.
func toolError(err error) error {
	var e *client.Error
	if errors.As(err, &e) {
		if e.Status == 0 {
			return errors.New(e.Detail)
		}
		return fmt.Errorf("%s (HTTP %d %s)", e.Detail, e.Status, http.StatusText(e.Status))
	}
	return err
}

// text is a tool result of plain text blocks.
func text(blocks ...string) *sdk.CallToolResult {
	r := &sdk.CallToolResult{}
	for _, b := range blocks {
		if b != "" {
			r.Content = append(r.Content, &sdk.TextContent{Text: b})
		}
	}
	if len(r.Content) == 0 {
		r.Content = []sdk.Content{&sdk.TextContent{Text: ""}}
	}
	return r
}

// handler adapts a tool's function: bound to t.life, its error the API's
// detail.
func handler[In any](t *tools, f func(ctx context.Context, in In) (*sdk.CallToolResult, any, error)) sdk.ToolHandlerFor[In, any] {
	return func(ctx context.Context, _ *sdk.CallToolRequest, in In) (*sdk.CallToolResult, any, error) {
		ctx, done := t.bind(ctx)
		defer done()
		res, out, err := f(ctx, in)
		if err != nil {
			return nil, nil, toolError(err)
		}
		return res, out, nil
	}
}

// readOnlyTool and writeTool are the annotations of the two kinds.
func readOnlyTool(title string) *sdk.ToolAnnotations {
	return &sdk.ToolAnnotations{Title: title, ReadOnlyHint: true}
}

func writeTool(title string, destructive, idempotent bool) *sdk.ToolAnnotations {
	open := false
	return &sdk.ToolAnnotations{Title: title, DestructiveHint: &destructive, IdempotentHint: idempotent, OpenWorldHint: &open}
}
