package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/warder/warder"
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
	responses := full["components"].(map[string]any)["responses"].(map[string]any)
	for _, ref := range refsIn(full) {
		name, isResponse := strings.CutPrefix(ref, "#/components/responses/")
		if isResponse {
			if _, ok := responses[name]; !ok {
				t.Errorf("$ref %s names no response", ref)
			}
		} else if _, ok := schemas[strings.TrimPrefix(ref, "#/components/schemas/")]; !ok {
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

// servedOpenAPI is the document as GET /api/openapi.json serves it.
func servedOpenAPI(t *testing.T) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	New(Options{}).ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /api/openapi.json = %d", rec.Code)
	}
	return rec.Body.Bytes()
}

// TestOpenAPIValidByKinOpenAPI: kin-openapi's loader and validator accept
// the served document (they refused it while /api/agents and
// /api/agents/ shared an operationId), and it holds what tools need:
// unique lowerCamelCase operationIds, a server, enums for statuses, lists
// that are arrays, and every error answer a named response.
func TestOpenAPIValidByKinOpenAPI(t *testing.T) {
	raw := servedOpenAPI(t)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("kin-openapi cannot load the document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("kin-openapi finds the document invalid: %v", err)
	}
	if len(doc.Servers) == 0 {
		t.Error("no servers entry")
	}

	ids := map[string]string{}
	camel := regexp.MustCompile(`^[a-z][a-zA-Z]+$`)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if !camel.MatchString(op.OperationID) {
				t.Errorf("%s: operationId %q is not lowerCamelCase", where, op.OperationID)
			}
			if other, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %q names both %s and %s", op.OperationID, other, where)
			}
			ids[op.OperationID] = where
			for code, resp := range op.Responses.Map() {
				if code >= "400" && !strings.HasPrefix(resp.Ref, "#/components/responses/") {
					t.Errorf("%s: the %s answer is not a named response", where, code)
				}
			}
		}
	}
	for id, want := range map[string]string{
		"listAgents": "GET /api/agents", "createAgent": "POST /api/agents", "getAgent": "GET /api/agents/{id}",
		"startAgent": "POST /api/agents/{id}/start", "stopAgent": "POST /api/agents/{id}/stop",
		"deleteAgent": "DELETE /api/agents/{id}", "login": "POST /api/auth/login", "getFile": "GET /api/agents/{id}/files/{path}",
	} {
		if ids[id] != want {
			t.Errorf("operationId %s is %q, want %q", id, ids[id], want)
		}
	}
	for name, resp := range doc.Components.Responses {
		mt := resp.Value.Content.Get("application/json")
		if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/ErrorResponse" {
			t.Errorf("response %s is not an ErrorResponse", name)
		}
	}

	statuses := doc.Components.Schemas["AgentStatus"]
	for _, s := range warder.AgentStatuses {
		if statuses == nil || !slices.Contains(statuses.Value.Enum, any(string(s))) {
			t.Errorf("AgentStatus's enum lacks %q", s)
		}
	}
	if ref := doc.Components.Schemas["Agent"].Value.Properties["status"].Ref; ref != "#/components/schemas/AgentStatus" {
		t.Errorf("Agent.status is %q, not the AgentStatus enum", ref)
	}

	// What answers hold: every list an array, every map an object, never
	// also null (but the one list old agents lack, see nullableLists).
	var full map[string]any
	json.Unmarshal(raw, &full)
	schemas := full["components"].(map[string]any)["schemas"].(map[string]any)
	seen := map[string]bool{}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				name, ok := strings.CutPrefix(ref, "#/components/schemas/")
				if ok && !seen[name] {
					seen[name] = true
					walk(schemas[name], name)
				}
			}
			if types, ok := x["type"].([]any); ok && slices.Contains(types, "null") &&
				(slices.Contains(types, "array") || slices.Contains(types, "object")) && at != "ContainerConfig.secret_env_names" {
				t.Errorf("%s: an answer's list or map typed %v", at, types)
			}
			for k, e := range x {
				switch k {
				case "requestBody": // requests may send null (see nullableLists)
				case "properties":
					for name, p := range e.(map[string]any) {
						walk(p, at+"."+name)
					}
				default:
					walk(e, at)
				}
			}
		case []any:
			for _, e := range x {
				walk(e, at)
			}
		}
	}
	walk(full["paths"], "paths")
	if !seen["Agent"] || !seen["ContainerConfig"] {
		t.Errorf("the walk of answers missed schemas: %v", seen)
	}
}
