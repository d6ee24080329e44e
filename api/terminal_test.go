package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/warder/warder"
)

// TestTerminalToken: a browser's token offered as a subprotocol becomes
// the request's Authorization and leaves the offered list, so it is
// never echoed; an Authorization header already there wins; other
// subprotocols stay.
func TestTerminalToken(t *testing.T) {
	for _, tc := range []struct {
		name          string
		auth          string
		protocols     []string
		wantAuth      string
		wantProtocols string
	}{
		{"browser", "", []string{"warder.terminal.v1, warder.token.wdk_abc"}, "Bearer wdk_abc", "warder.terminal.v1"},
		{"two headers", "", []string{"warder.terminal.v1", "warder.token.tok"}, "Bearer tok", "warder.terminal.v1"},
		{"header wins", "Bearer real", []string{"warder.terminal.v1, warder.token.other"}, "Bearer real", "warder.terminal.v1"},
		{"no token", "", []string{"warder.terminal.v1"}, "", "warder.terminal.v1"},
		{"only the token", "", []string{"warder.token.x"}, "Bearer x", ""},
	} {
		r := httptest.NewRequest("GET", "/api/agents/a/terminal", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		for _, p := range tc.protocols {
			r.Header.Add("Sec-WebSocket-Protocol", p)
		}
		var got *http.Request
		(&Server{}).terminalToken(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r })).ServeHTTP(httptest.NewRecorder(), r)
		if a, p := got.Header.Get("Authorization"), got.Header.Get("Sec-WebSocket-Protocol"); a != tc.wantAuth || p != tc.wantProtocols {
			t.Errorf("%s: Authorization %q, protocols %q; want %q, %q", tc.name, a, p, tc.wantAuth, tc.wantProtocols)
		}
	}
}

// TestTerminalRequest: the query's command, columns and rows, and what
// is refused.
func TestTerminalRequest(t *testing.T) {
	for _, tc := range []struct {
		query string
		cmd   int
		size  warder.TermSize
		bad   bool
	}{
		{"", 0, warder.DefaultTermSize, false},
		{"cmd=/bin/bash&cmd=-l&cols=120&rows=40", 2, warder.TermSize{Cols: 120, Rows: 40}, false},
		{"cols=80", 0, warder.TermSize{}, true},
		{"cols=0&rows=0", 0, warder.DefaultTermSize, false},
		{"cols=x&rows=2", 0, warder.TermSize{}, true},
		{"cols=1001&rows=2", 0, warder.TermSize{}, true},
		{"cols=70000&rows=2", 0, warder.TermSize{}, true},
		{"cmd=", 0, warder.TermSize{}, true},
	} {
		req, err := terminalRequest(httptest.NewRequest("GET", "/api/agents/a/terminal?"+tc.query, nil))
		if (err != nil) != tc.bad || !tc.bad && (len(req.Cmd) != tc.cmd || req.Size != tc.size) {
			t.Errorf("%q: %+v %v", tc.query, req, err)
		}
	}
}
