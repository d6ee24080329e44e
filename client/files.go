package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/warder/warder/wire"
)

// filesPath is the files route of path in agent id's workspace, each
// element escaped.
func filesPath(id, p string) string {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, el := range parts {
		parts[i] = url.PathEscape(el)
	}
	return "/api/agents/" + seg(id) + "/files/" + strings.Join(parts, "/")
}

// ListDir lists a directory of the agent's workspace ("" is its root).
func (c *Client) ListDir(ctx context.Context, id, dir string) (*wire.DirListing, error) {
	var l wire.DirListing
	err := c.get(ctx, filesPath(id, dir), nil, &l)
	return orNil(&l, err)
}

// ReadFile opens a file of the agent's workspace; the caller closes it.
func (c *Client) ReadFile(ctx context.Context, id, p string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: filesPath(id, p), header: http.Header{"Accept": {"*/*"}}})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ReadTar opens a file or a directory of the agent's workspace as a tar
// whose names start with its own name; the caller closes it.
func (c *Client) ReadTar(ctx context.Context, id, p string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: filesPath(id, p), query: url.Values{"format": {"tar"}}, header: http.Header{"Accept": {"application/x-tar"}}})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// WriteFile writes r to a file of the agent's workspace, replacing it.
func (c *Client) WriteFile(ctx context.Context, id, p string, r io.Reader) (*wire.FileWritten, error) {
	var w wire.FileWritten
	err := c.call(ctx, request{method: http.MethodPut, path: filesPath(id, p), raw: r, rawType: "application/octet-stream"}, &w)
	return orNil(&w, err)
}

// WriteTar extracts the tar r into directory dir of the agent's
// workspace ("" is its root).
func (c *Client) WriteTar(ctx context.Context, id, dir string, r io.Reader) (*wire.FileWritten, error) {
	var w wire.FileWritten
	err := c.call(ctx, request{method: http.MethodPut, path: filesPath(id, dir), raw: r, rawType: "application/x-tar"}, &w)
	return orNil(&w, err)
}

// RemoveFile deletes a file or a directory tree of the agent's workspace.
func (c *Client) RemoveFile(ctx context.Context, id, p string) error {
	_, err := c.message(ctx, http.MethodDelete, filesPath(id, p), nil)
	return err
}

// Exec runs req in the running agent, calling fn with each piece of its
// output ("stdout" or "stderr", and the text) as it is written; it
// returns how the command ended. An "error" event is an *Error with
// Status 0.
func (c *Client) Exec(ctx context.Context, id string, req wire.ExecRequest, fn func(stream, data string) error) (wire.ExecResult, error) {
	var res wire.ExecResult
	_, err := c.stream(ctx, request{method: http.MethodPost, path: "/api/agents/" + seg(id) + "/exec", body: req}, func(ev event) error {
		if ev.name == "exit" {
			return decodeEvent(func(r wire.ExecResult) error { res = r; return nil })(ev)
		}
		return decodeEvent(func(o wire.ExecOutput) error { return fn(ev.name, o.Data) })(ev)
	})
	return res, err
}

// DeleteAgentWith deletes the agent as DeleteAgent does; opts can keep
// its workspace.
func (c *Client) DeleteAgentWith(ctx context.Context, id string, opts DeleteOptions) error {
	q := url.Values{}
	if opts.KeepWorkspace {
		q.Set("keep_workspace", "true")
	}
	if opts.KeepSnapshots {
		q.Set("keep_snapshots", "true")
	}
	return c.call(ctx, request{method: http.MethodDelete, path: "/api/agents/" + seg(id), query: q}, nil)
}

// Workspaces lists the caller's workspaces (an admin's: all), kept ones
// of deleted agents among them.
func (c *Client) Workspaces(ctx context.Context) ([]*wire.Workspace, error) {
	var r wire.WorkspacesResponse
	err := c.get(ctx, "/api/workspaces", nil, &r)
	return r.Workspaces, err
}

// DeleteWorkspace deletes a kept workspace by name.
func (c *Client) DeleteWorkspace(ctx context.Context, name string) error {
	_, err := c.message(ctx, http.MethodDelete, "/api/workspaces/"+seg(name), nil)
	return err
}
