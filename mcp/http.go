package mcp

import (
	"log/slog"
	"net/http"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/internal/inproc"
)

// Handler serves MCP's streamable HTTP transport for a Warder server: a
// request already authenticated by the API (ServeMCP) gets a server of
// its own whose tools call api, the server's own handler, in process,
// with the request's credential. It keeps nothing between requests
// (the SDK's stateless mode: no session, no stream held open), so it
// works alike behind any replica.
type Handler struct {
	api http.Handler
	log *slog.Logger
}

// NewHandler returns the MCP transport for the Warder whose API is api.
func NewHandler(api http.Handler, log *slog.Logger) *Handler {
	return &Handler{api: api, log: log}
}

// ServeMCP answers one MCP request of caller, a user the API has
// authenticated with r's bearer credential.
func (h *Handler) ServeMCP(w http.ResponseWriter, r *http.Request, caller *warder.User) {
	c := client.New("http://warder.internal", bearer(r), client.WithHTTPClient(&http.Client{Transport: inproc.Transport{Handler: h.api}}))
	server := NewServer(r.Context(), c, caller.ReadOnly)
	sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return server }, &sdk.StreamableHTTPOptions{
		Stateless: true, JSONResponse: true, Logger: h.log,
		// The API has bounded the body already (1 MiB).
		MaxRequestBodyBytes: -1,
		// DNS rebinding needs an ambient credential to abuse; this
		// endpoint takes only a bearer token, which a rebound page does
		// not have. And behind a reverse proxy on the same host every
		// request arrives from localhost with the public Host.
		DisableLocalhostProtection: true,
	}).ServeHTTP(w, r)
}

// bearer is the token of r's Authorization header, as the API reads it.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
