package api

import (
	"net/http"

	"github.com/warder/warder"
)

// mcpRoute is the Model Context Protocol's streamable HTTP transport.
// Every MCP message is a POST; the server is stateless (no session kept
// between requests), so there is no GET stream and no DELETE.
const mcpRoute = "POST /api/mcp"

// MCP serves the Model Context Protocol for a signed-in caller. Its tools
// call this server's own API (the handler given to Options.MCP) with the
// caller's credential, so each tool call passes the same checks, bounds
// and audit as the API call it stands for; see package mcp.
type MCP interface {
	ServeMCP(w http.ResponseWriter, r *http.Request, caller *warder.User)
}

// mcp hands an authenticated request to the MCP server. A read-only key
// gets here too (see authed): it is given only the read-only tools, and
// each tool's own API call is refused again if it would change anything.
func (s *Server) mcp(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	if s.mcpServer == nil {
		return warder.Errorf(warder.ErrNotFound, "MCP is not served here")
	}
	s.mcpServer.ServeMCP(w, r, caller)
	return nil
}
