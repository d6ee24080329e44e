package mcp

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

type execIn struct {
	Agent   string            `json:"agent" jsonschema:"the agent's id, or its exact name"`
	Cmd     []string          `json:"cmd" jsonschema:"the program and its arguments, run without a shell, e.g. [\"/warder-agent\", \"ls\", \"/data\"]"`
	Env     map[string]string `json:"env,omitempty" jsonschema:"variables added to the agent's environment"`
	Timeout string            `json:"timeout,omitempty" jsonschema:"a duration such as 30s after which the command is killed (default 1m, at most 1h)"`
	Stdin   string            `json:"stdin,omitempty" jsonschema:"written to the command's standard input, which is then closed"`
}

type execOut struct {
	ExitCode   int   `json:"exit_code"`
	TimedOut   bool  `json:"timed_out"`
	DurationMS int64 `json:"duration_ms"`
	// OutputBytes is how much the command wrote; Truncated says the
	// answer holds only the first MaxOutputBytes of it.
	OutputBytes int64 `json:"output_bytes"`
	Truncated   bool  `json:"truncated"`
}

func (t *tools) exec(ctx context.Context, in execIn) (*sdk.CallToolResult, any, error) {
	a, err := t.resolve(ctx, in.Agent)
	if err != nil {
		return nil, nil, err
	}
	out := keeper{max: MaxOutputBytes}
	res, err := t.c.Exec(ctx, a.ID, wire.ExecRequest{Cmd: in.Cmd, Env: in.Env, Timeout: in.Timeout, Stdin: in.Stdin},
		func(_, data string) error { out.add(data); return nil })
	if err != nil {
		return nil, nil, err
	}
	o := execOut{ExitCode: res.ExitCode, TimedOut: res.TimedOut, DurationMS: res.DurationMS, OutputBytes: out.total, Truncated: out.cut()}
	summary := fmt.Sprintf("[exit code %d", res.ExitCode)
	if res.TimedOut {
		summary += ", killed: timed out"
	}
	if o.Truncated {
		summary += fmt.Sprintf("; output cut: %d bytes written, the first %d shown", out.total, out.kept.Len())
	}
	r := text(out.kept.String(), summary+"]")
	return r, o, nil
}

type pathIn struct {
	Agent string `json:"agent" jsonschema:"the agent's id, or its exact name"`
	Path  string `json:"path,omitempty" jsonschema:"a path in the workspace, relative to /data (empty: /data itself)"`
}

func (t *tools) listFiles(ctx context.Context, in pathIn) (*sdk.CallToolResult, any, error) {
	a, err := t.resolve(ctx, in.Agent)
	if err != nil {
		return nil, nil, err
	}
	l, err := t.c.ListDir(ctx, a.ID, in.Path)
	if err != nil {
		return nil, nil, err
	}
	return nil, l, nil
}

type fileOut struct {
	Path string `json:"path"`
	// Encoding is "text", or "base64" for a file that is not UTF-8.
	Encoding  string `json:"encoding"`
	Truncated bool   `json:"truncated"`
}

func (t *tools) readFile(ctx context.Context, in pathIn) (*sdk.CallToolResult, any, error) {
	a, err := t.resolve(ctx, in.Agent)
	if err != nil {
		return nil, nil, err
	}
	body, err := t.c.ReadFile(ctx, a.ID, in.Path)
	if err != nil {
		return nil, nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, MaxOutputBytes+1))
	if err != nil {
		return nil, nil, err
	}
	o := fileOut{Path: in.Path, Encoding: "text", Truncated: len(data) > MaxOutputBytes}
	content := string(data)
	if o.Truncated {
		content, _ = head(content, MaxOutputBytes)
	}
	if !utf8.ValidString(content) {
		o.Encoding, content = "base64", base64.StdEncoding.EncodeToString(data[:min(len(data), MaxOutputBytes)])
	}
	note := ""
	if o.Truncated {
		note = fmt.Sprintf("[the file is larger than %d KiB; its first %d bytes are shown]", MaxOutputBytes>>10, len(content))
	}
	return text(content, note), o, nil
}

type writeFileIn struct {
	Agent         string `json:"agent" jsonschema:"the agent's id, or its exact name"`
	Path          string `json:"path" jsonschema:"the file's path in the workspace, relative to /data"`
	Content       string `json:"content,omitempty" jsonschema:"the file's text"`
	ContentBase64 string `json:"content_base64,omitempty" jsonschema:"the file's bytes in base64, instead of content"`
}

func (t *tools) writeFile(ctx context.Context, in writeFileIn) (*sdk.CallToolResult, any, error) {
	data := []byte(in.Content)
	if in.ContentBase64 != "" {
		if in.Content != "" {
			return nil, nil, fmt.Errorf("give content or content_base64, not both")
		}
		var err error
		if data, err = base64.StdEncoding.DecodeString(in.ContentBase64); err != nil {
			return nil, nil, fmt.Errorf("content_base64 is not base64: %v", err)
		}
	}
	a, err := t.resolve(ctx, in.Agent)
	if err != nil {
		return nil, nil, err
	}
	w, err := t.c.WriteFile(ctx, a.ID, in.Path, strings.NewReader(string(data)))
	if err != nil {
		return nil, nil, err
	}
	return nil, w, nil
}

type logsIn struct {
	Agent string `json:"agent" jsonschema:"the agent's id, or its exact name"`
	Lines int    `json:"lines,omitempty" jsonschema:"how many of the latest lines (1 to 10000, default 100)"`
	Since string `json:"since,omitempty" jsonschema:"only lines since then: RFC 3339, Unix seconds, or a duration before now such as 10m"`
}

func (t *tools) logs(ctx context.Context, in logsIn) (*sdk.CallToolResult, any, error) {
	a, err := t.resolve(ctx, in.Agent)
	if err != nil {
		return nil, nil, err
	}
	logs, cut, err := t.recentLogs(ctx, a.ID, in.Lines, in.Since)
	if err != nil {
		return nil, nil, err
	}
	note := ""
	if cut {
		note = fmt.Sprintf("[cut to the latest %d KiB]", MaxOutputBytes>>10)
	}
	return text(logs, note), nil, nil
}

// recentLogs is the agent's latest lines, their end in MaxOutputBytes.
func (t *tools) recentLogs(ctx context.Context, id string, lines int, since string) (string, bool, error) {
	if lines == 0 {
		lines = 100
	}
	opts := client.LogOptions{Tail: lines}
	if since != "" {
		s, err := parseSince(since)
		if err != nil {
			return "", false, err
		}
		opts.Since = s
	}
	logs, err := t.c.Logs(ctx, id, opts)
	if err != nil {
		return "", false, err
	}
	logs, cut := tail(logs, MaxOutputBytes)
	return logs, cut, nil
}
