package mcp

import (
	"context"
	"io"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/warder/warder/client"
)

// ServeStdio serves MCP over in and out (`warder mcp`: stdin and stdout)
// until ctx ends or in is closed, its tools calling the Warder server c
// signs in to. A read-only API key gets only the read-only tools.
func ServeStdio(ctx context.Context, c *client.Client, token string, in io.ReadCloser, out io.WriteCloser) error {
	readOnly, err := isReadOnly(ctx, c, token)
	if err != nil {
		return err
	}
	return NewServer(ctx, c, readOnly).Run(ctx, &sdk.IOTransport{Reader: in, Writer: out})
}

// isReadOnly finds out whether token is a read-only API key: the API
// lists the caller's keys by the prefix of their secret. A login token
// is never read-only. (The API refuses a read-only key's writes in any
// case; this only keeps the tools it would refuse out of the list.)
func isReadOnly(ctx context.Context, c *client.Client, token string) (bool, error) {
	if !strings.HasPrefix(token, "wdk_") {
		_, err := c.Me(ctx) // a bad token fails here, not at the first tool
		return false, err
	}
	keys, err := c.Keys(ctx)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		if k.Prefix != "" && strings.HasPrefix(token, k.Prefix) && k.ReadOnly {
			return true, nil
		}
	}
	return false, nil
}
