package app

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLLMSettings: the upstreams, numbered without gaps, each an http(s)
// URL (no credentials) named by its host unless named; the key from the
// variable or its _FILE, not both; later upstreams name their models;
// the gateway's URL; the default budgets, 0 none; and Kubernetes needs a
// URL. The key never prints.
func TestLLMSettings(t *testing.T) {
	cfg, err := LoadConfig(nil)
	if err != nil || len(cfg.LLMUpstreams) != 0 || *cfg.Quota.LLMTokensPerDay != 0 {
		t.Fatalf("defaults: %+v %v", cfg.LLMUpstreams, err)
	}
	const key = "sk-real-0123456789"
	file := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WARDER_LLM_UPSTREAM_URL", "https://api.openai.com/v1")
	t.Setenv("WARDER_LLM_UPSTREAM_KEY_FILE", file)
	t.Setenv("WARDER_LLM_UPSTREAM_2_URL", "http://10.0.0.5:11434/v1")
	t.Setenv("WARDER_LLM_UPSTREAM_2_NAME", "ollama")
	t.Setenv("WARDER_LLM_UPSTREAM_2_MODELS", "llama3, qwen")
	t.Setenv("WARDER_LLM_AGENT_TOKENS_PER_DAY", "100000")
	t.Setenv("WARDER_LLM_USER_TOKENS_PER_MONTH", "5000000")
	cfg, err = LoadConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	ups := cfg.LLMUpstreams
	if len(ups) != 2 || ups[0].Name != "api.openai.com" || string(ups[0].Key) != key || ups[1].Name != "ollama" || ups[1].Key != "" ||
		strings.Join(ups[1].Models, ",") != "llama3,qwen" || *cfg.Quota.AgentLLMTokensPerDay != 100000 || *cfg.Quota.LLMTokensPerMonth != 5000000 || *cfg.Quota.LLMTokensPerDay != 0 {
		t.Fatalf("upstreams %+v, quota %+v", ups, cfg.Quota)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "upstream", ups[0], "key", ups[0].Key)
	js, _ := json.Marshal(cfg)
	for name, shown := range map[string]string{"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg), "json": string(js), "slog": logged.String()} {
		if strings.Contains(shown, key) || !strings.Contains(shown, "[redacted]") {
			t.Errorf("the key shows, or is not said to be hidden, in %s: %s", name, shown)
		}
	}

	for _, tc := range []struct{ name, value, want string }{
		{"WARDER_LLM_UPSTREAM_KEY", "sk-too", "both set"},
		{"WARDER_LLM_UPSTREAM_2_MODELS", "", "WARDER_LLM_UPSTREAM_2_MODELS must name"},
		{"WARDER_LLM_UPSTREAM_URL", "https://user:pw@api.openai.com/v1", "WARDER_LLM_UPSTREAM_URL must be"},
		{"WARDER_LLM_UPSTREAM_URL", "ftp://x", "WARDER_LLM_UPSTREAM_URL must be"},
		{"WARDER_LLM_UPSTREAM_URL", "", "WARDER_LLM_UPSTREAM_URL is not set, but its other settings are"},
		{"WARDER_LLM_UPSTREAM_2_NAME", "api.openai.com", "two upstreams are named"},
		{"WARDER_LLM_GATEWAY_URL", "warder:8000", "WARDER_LLM_GATEWAY_URL"},
		{"WARDER_LLM_USER_TOKENS_PER_DAY", "-1", "WARDER_LLM_USER_TOKENS_PER_DAY"},
		{"WARDER_RUNTIME", "kubernetes", "WARDER_LLM_GATEWAY_URL must be set with WARDER_RUNTIME=kubernetes"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), key) {
				t.Errorf("%s=%q: %v, want %q", tc.name, tc.value, err, tc.want)
			}
		})
	}
	t.Setenv("WARDER_RUNTIME", "kubernetes")
	t.Setenv("WARDER_EGRESS_PROXY", "10.88.0.1:3128")
	if _, err := LoadConfig(nil); err != nil {
		t.Errorf("on Kubernetes with an egress proxy's address (the gateway's too): %v", err)
	}
	t.Setenv("WARDER_EGRESS_PROXY", "auto")
	t.Setenv("WARDER_LLM_GATEWAY_URL", "http://warder.warder.svc:8000/llm")
	if cfg, err := LoadConfig(nil); err != nil || cfg.LLMGatewayURL != "http://warder.warder.svc:8000/llm" {
		t.Errorf("on Kubernetes with a URL: %q %v", cfg.LLMGatewayURL, err)
	}
}

// TestLLMTokens: a token is its agent's alone, checked by its HMAC
// before anything is looked up, and differs under another secret key.
func TestLLMTokens(t *testing.T) {
	h, err := newLLMHub(Config{DataDir: t.TempDir(), LLMUpstreams: []LLMUpstream{{URL: "http://x/v1"}}}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	id := "0b1e5d1a-6f1c-4c3e-9a3d-2f1b6b1c0a9e"
	tok := h.token(id)
	if !strings.HasPrefix(tok, "wllm."+id+".") || h.token(id) != tok || h.token("0b1e5d1a-6f1c-4c3e-9a3d-2f1b6b1c0a9f") == tok {
		t.Fatalf("token %q", tok)
	}
	other, _ := newLLMHub(Config{DataDir: t.TempDir(), LLMUpstreams: []LLMUpstream{{URL: "http://x/v1"}}}, slog.Default())
	if other.token(id) == tok {
		t.Error("two secret keys give one token")
	}
	// h.llm is nil: a token whose HMAC fails never reaches a lookup.
	for _, bad := range []string{"", "wllm.", "wllm." + id, tok + "x", strings.Replace(tok, "wllm.", "xllm.", 1), other.token(id)} {
		if _, err := h.Caller(t.Context(), bad); err == nil {
			t.Errorf("%q was taken", bad)
		}
	}
}
