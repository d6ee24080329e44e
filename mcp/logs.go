package mcp

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// logsTemplate names an agent's logs as a resource.
const logsTemplate = "warder://agents/{agent}/logs"

// addLogsResource makes each agent's latest 100 lines of output readable
// as the resource warder://agents/{id or name}/logs.
func addLogsResource(s *sdk.Server, t *tools) {
	s.AddResourceTemplate(&sdk.ResourceTemplate{Name: "agent-logs", Title: "An agent's logs", URITemplate: logsTemplate, MIMEType: "text/plain",
		Description: fmt.Sprintf("The agent's latest 100 lines of output, at most %d KiB.", MaxOutputBytes>>10)},
		func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			ctx, done := t.bind(ctx)
			defer done()
			uri := req.Params.URI
			ref, ok := strings.CutPrefix(uri, "warder://agents/")
			if ref, ok = strings.CutSuffix(ref, "/logs"); !ok || ref == "" || strings.Contains(ref, "/") {
				return nil, sdk.ResourceNotFoundError(uri)
			}
			a, err := t.resolve(ctx, ref)
			if err != nil {
				return nil, toolError(err)
			}
			logs, _, err := t.recentLogs(ctx, a.ID, 100, "")
			if err != nil {
				return nil, toolError(err)
			}
			return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: uri, MIMEType: "text/plain", Text: logs}}}, nil
		})
}

// parseSince reads a time as the API does: RFC 3339, Unix seconds, or a
// duration before now. The server checks its range.
func parseSince(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Unix(n, 0), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("since must be a time such as 2026-11-27T05:00:00Z, Unix seconds, or a duration such as 10m, not %q", v)
}
