package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/warder/warder"
)

// CORS headers. Credentials are never allowed: Warder's callers sign in
// with a bearer token they send themselves, never a cookie, so a browser
// page gets only what its own token may read.
const (
	corsMethods = "GET, POST, PUT, PATCH, DELETE"
	corsHeaders = "Authorization, Content-Type, Accept, X-Request-ID, Last-Event-ID"
	corsExpose  = "X-Request-ID, X-Conversation-ID, Retry-After, WWW-Authenticate, X-Next-Cursor, Link"
	corsMaxAge  = "600"
)

// cors is the set of origins browsers may call the API from; nil is off.
type cors struct {
	any     bool // "*": every origin
	origins map[string]bool
}

func newCORS(origins []string) *cors {
	if len(origins) == 0 {
		return nil
	}
	c := &cors{origins: map[string]bool{}}
	for _, o := range origins {
		if o == "*" {
			c.any = true
		}
		c.origins[o] = true
	}
	return c
}

// ParseCORSOrigins reads WARDER_CORS_ORIGINS: comma-separated exact
// origins (scheme://host[:port], no path), or "*" for any. Empty is none:
// CORS off.
func ParseCORSOrigins(v string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(v, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				return nil, fmt.Errorf("CORS origin %q must be scheme://host[:port] (such as https://app.example.com) or *", o)
			}
			o = u.Scheme + "://" + strings.ToLower(u.Host)
		}
		out = append(out, o)
	}
	return out, nil
}

// handle adds the CORS headers r's origin is due, and answers a
// preflight itself; it reports whether it answered.
func (c *cors) handle(w http.ResponseWriter, r *http.Request) bool {
	if c == nil {
		return false
	}
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if !c.any && !c.origins[origin] {
		if preflight {
			writeJSON(w, http.StatusForbidden, warder.ErrorResponse{Detail: "origin " + echoed(origin) + " may not call this API (WARDER_CORS_ORIGINS)"})
			return true
		}
		return false // the browser keeps the answer from the page
	}
	h := w.Header()
	if c.any {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if !preflight {
		h.Set("Access-Control-Expose-Headers", corsExpose)
		return false
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", corsMethods)
	h.Set("Access-Control-Allow-Headers", corsHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}
