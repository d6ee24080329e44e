package api

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/warder/warder"
)

// fuzzAgents validates like the real service and stores nothing: the fuzz
// target is the decoding and validation of bodies, which is the API's and
// the root package's own code.
type fuzzAgents struct{ AgentService }

func (fuzzAgents) CreateAgent(_ context.Context, _ *warder.User, req warder.AgentCreate) (*warder.Agent, error) {
	if err := req.Validate("warder/agent:latest"); err != nil {
		return nil, err
	}
	return &warder.Agent{Name: req.Name, ContainerConfig: req.ContainerConfig}, nil
}

func (fuzzAgents) UpdateAgent(_ context.Context, _ *warder.User, _ string, req warder.AgentUpdate) (*warder.Agent, error) {
	a := &warder.Agent{Name: "x", ContainerConfig: warder.ContainerConfig{MemoryLimit: "512m", CPULimit: 0.5}}
	return a, req.Apply(a, "warder/agent:latest")
}

type fuzzAuth struct{ AuthService }

func (fuzzAuth) Authenticate(context.Context, string) (*warder.User, error) {
	return &warder.User{ID: "u1", Username: "fuzz", Role: warder.RoleUser}, nil
}

// FuzzAgentBody: no body, however malformed, makes the agent endpoints
// panic or answer 500; every refusal is a 4xx with a detail.
func FuzzAgentBody(f *testing.F) {
	for _, seed := range []string{
		`{"name": "a", "container_config": {"memory_limit": "512m", "cpu_limit": 0.5, "env_vars": {"A": "b"}}}`,
		`{"name": "a", "container_config": {"memory_limit": "lots"}}`,
		`{"name": 1}`, `[]`, `{`, ``, `null`, `{"name": "a", "config": {"deep": [1, {"x": null}]}}`,
		`{"name": "a", "container_config": {"restart_policy": "on-failure:3", "secret_env": {"K": "v"}}}`,
		`{"container_config": {"cpu_limit": 1e308, "memory_limit": "99999999999999999999g"}}`,
		`{"name": "a", "container_config": {"privileged": true}}`,
	} {
		f.Add([]byte(seed))
	}
	s := New(Options{Auth: fuzzAuth{}, Agents: fuzzAgents{}})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range []struct{ method, path string }{
			{"POST", "/api/agents"},
			{"PATCH", "/api/agents/0b6f0a3e-8c55-4a53-9b1b-6f7f5f2a1c11"},
		} {
			req := httptest.NewRequest(target.method, target.path, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer t")
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s %q = %d %s", target.method, target.path, body, rec.Code, rec.Body)
			}
			if rec.Code >= 400 && !bytes.Contains(rec.Body.Bytes(), []byte(`"detail"`)) {
				t.Fatalf("%s %q = %d without a detail: %s", target.method, body, rec.Code, rec.Body)
			}
			if rec.Code != http.StatusCreated && rec.Code != http.StatusOK && rec.Code < 400 {
				t.Fatalf("%s %q = %d", target.method, body, rec.Code)
			}
		}
	})
}
