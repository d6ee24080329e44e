package api

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOpenAPICoversRoutes walks the route table: every route is in the
// document, and every operation of the document is answered by the
// route it describes (asked of the ServeMux itself).
func TestOpenAPICoversRoutes(t *testing.T) {
	s := New(Options{})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/openapi.json = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	routes := s.Routes()
	if len(routes) < 40 {
		t.Fatalf("only %d routes", len(routes))
	}
	described := 0
	for _, pattern := range routes {
		methods, path := openAPIPath(pattern)
		for _, m := range methods {
			if _, ok := doc.Paths[path][m]; !ok {
				t.Errorf("route %q: the document has no %s %s", pattern, m, path)
			}
			described++
		}
	}
	for _, p := range routes {
		if _, ok := ops[p]; !ok {
			t.Errorf("route %q has no op", p)
		}
	}
	for p := range ops {
		if !contains(routes, p) {
			t.Errorf("ops names %q, which is no route", p)
		}
	}
	operations := 0
	for path, methods := range doc.Paths {
		for m := range methods {
			operations++
			// Fill the path's parameters and ask the mux which route answers.
			concrete := strings.NewReplacer("{id}", "0b1e", "{cid}", "c1d", "{path}", "x/y").Replace(path)
			r := httptest.NewRequest(strings.ToUpper(m), concrete, nil)
			_, pattern := s.mux.Handler(r)
			if pattern == "/" || pattern == "" {
				t.Errorf("the document's %s %s is answered by no route", m, path)
				continue
			}
			if _, p := openAPIPath(pattern); p != path {
				t.Errorf("the document's %s %s is answered by route %q", m, path, pattern)
			}
		}
	}
	if operations != described {
		t.Errorf("the document has %d operations, the routes %d", operations, described)
	}
	// Every schema it refers to is there.
	var full map[string]any
	json.Unmarshal(rec.Body.Bytes(), &full)
	schemas := full["components"].(map[string]any)["schemas"].(map[string]any)
	for _, ref := range refsIn(full) {
		if _, ok := schemas[strings.TrimPrefix(ref, "#/components/schemas/")]; !ok {
			t.Errorf("$ref %s names no schema", ref)
		}
	}
}

func refsIn(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" {
				out = append(out, s)
			}
			out = append(out, refsIn(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, refsIn(e)...)
		}
	}
	return out
}
