package cli

import (
	"context"
	"flag"
	"io"

	"github.com/warder/warder/mcp"
)

// mcpCmd serves the Model Context Protocol on stdin and stdout for an AI
// agent's framework to start as a tool server; its tools call the server
// in use with the token in use (WARDER_URL, WARDER_TOKEN, else login's).
// Nothing else may be written to stdout: errors go to stderr.
func (c *CLI) mcpCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("mcp takes no arguments")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	return mcp.ServeStdio(ctx, cl, c.token(), io.NopCloser(c.Stdin), nopWriteCloser{c.Stdout})
}

// nopWriteCloser leaves the CLI's stdout open when the transport closes.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
