package api

import (
	"net/http/httptest"
	"testing"
)

func TestProxiedPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"/api/agents/a1/proxy/":          {"/", "/"},
		"/api/agents/a1/proxy/x/y?q=1":   {"/x/y", "/x/y"},
		"/api/agents/a1/proxy/a%2Fb/c":   {"/a/b/c", "/a%2Fb/c"},
		"/api/agents/a1/proxy/sp%20ace/": {"/sp ace/", "/sp%20ace/"},
	} {
		r := httptest.NewRequest("GET", in, nil)
		path, raw := proxiedPath(r, "a1")
		if path != want[0] || raw != want[1] {
			t.Errorf("proxiedPath(%q) = %q, %q; want %q, %q", in, path, raw, want[0], want[1])
		}
	}
}
