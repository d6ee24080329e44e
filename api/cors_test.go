package api

import (
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	const app = "https://app.example.com"
	preflight := func(origin string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}
	}
	for _, c := range []struct {
		name    string
		origins []string
		method  string
		path    string
		headers map[string]string
		status  int
		want    map[string]string // "" means absent
	}{
		{"off: a preflight is a request like any", nil, "OPTIONS", "/api/agents", preflight(app), 405,
			map[string]string{"Access-Control-Allow-Origin": ""}},
		{"off: no headers", nil, "GET", "/healthz", map[string]string{"Origin": app}, 200,
			map[string]string{"Access-Control-Allow-Origin": ""}},
		{"preflight of an allowed origin", []string{app}, "OPTIONS", "/api/agents", preflight(app), 204,
			map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Allow-Methods": corsMethods,
				"Access-Control-Allow-Headers": corsHeaders, "Access-Control-Allow-Credentials": "", "Access-Control-Max-Age": "600"}},
		{"a request of an allowed origin", []string{"http://localhost:3000", app}, "GET", "/healthz", map[string]string{"Origin": app}, 200,
			map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Expose-Headers": corsExpose, "Access-Control-Allow-Credentials": ""}},
		{"an error answer carries them too", []string{app}, "GET", "/nope", map[string]string{"Origin": app}, 404,
			map[string]string{"Access-Control-Allow-Origin": app}},
		{"preflight of another origin", []string{app}, "OPTIONS", "/api/agents", preflight("https://evil.example"), 403,
			map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""}},
		{"a request of another origin", []string{app}, "GET", "/healthz", map[string]string{"Origin": "https://evil.example"}, 200,
			map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"}},
		{"wildcard: *, never with credentials", []string{"*"}, "OPTIONS", "/api/agents/x/start", preflight("https://any.example"), 204,
			map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": ""}},
		{"no Origin: not a CORS request", []string{app}, "GET", "/healthz", nil, 200,
			map[string]string{"Access-Control-Allow-Origin": ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New(Options{CORSOrigins: c.origins})
			r := httptest.NewRequest(c.method, c.path, nil)
			for k, v := range c.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			for k, v := range c.want {
				if got := strings.Join(w.Header().Values(k), ", "); !strings.HasPrefix(got, v) || v == "" && got != "" {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestParseCORSOrigins(t *testing.T) {
	got, err := ParseCORSOrigins(" https://App.example.com , http://localhost:3000,,*")
	if want := []string{"https://app.example.com", "http://localhost:3000", "*"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("%q, %v; want %q", got, err, want)
	}
	if got, err := ParseCORSOrigins(""); err != nil || got != nil {
		t.Fatalf("empty: %q, %v", got, err)
	}
	for _, bad := range []string{"app.example.com", "https://app.example.com/", "ftp://x", "https://u@x.example", "https://x.example?a=b"} {
		if _, err := ParseCORSOrigins(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
