package app

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/warder/warder"
	"github.com/warder/warder/egress"
)

// TestEgressSettings: the ceiling is all (none without egress), the
// default follows the default network, a default outside the ceiling or
// a proxy on every address is refused at start-up, each naming its
// variable.
func TestEgressSettings(t *testing.T) {
	cfg, err := LoadConfig(nil)
	if err != nil || cfg.EgressProxy != "auto" || cfg.EgressCeiling != nil || cfg.EgressDefault != nil {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	op, hasDefault, err := cfg.egressOperator()
	if err != nil || !op.Ceiling.IsAll() || !op.Default.IsAll() || hasDefault {
		t.Fatalf("default operator: %v %v %v", op, hasDefault, err)
	}
	t.Setenv("WARDER_EGRESS_CEILING", "*.example.com:443, api.openai.com")
	if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), "WARDER_EGRESS_CEILING") {
		t.Fatalf("a ceiling below the default network's all: %v", err)
	}
	t.Setenv("WARDER_EGRESS_DEFAULT", "api.openai.com:443")
	cfg, err = LoadConfig(nil)
	if err != nil || !slices.Equal(cfg.EgressDefault, []string{"api.openai.com:443"}) || len(cfg.EgressCeiling) != 2 {
		t.Fatalf("default within the ceiling: %+v %v", cfg.EgressCeiling, err)
	}
	t.Setenv("WARDER_EGRESS_DEFAULT", "github.com")
	if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), `"github.com"`) {
		t.Fatalf("a default outside the ceiling: %v", err)
	}
	t.Setenv("WARDER_EGRESS_DEFAULT", "")
	t.Setenv("WARDER_EGRESS_CEILING", "")
	for _, bad := range []string{"0.0.0.0:3128", "[::]:3128", "somewhere", "10.0.0.1"} {
		t.Setenv("WARDER_EGRESS_PROXY", bad)
		if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), "WARDER_EGRESS_PROXY") {
			t.Errorf("WARDER_EGRESS_PROXY=%s: %v", bad, err)
		}
	}
	t.Setenv("WARDER_EGRESS_PROXY", "172.17.0.1:3128")
	if _, err := LoadConfig(nil); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WARDER_EGRESS_PROXY", "")
	t.Setenv("WARDER_ALLOW_EGRESS", "false")
	t.Setenv("WARDER_DEFAULT_NETWORK", "internal")
	if cfg, err = LoadConfig(nil); err != nil {
		t.Fatal(err)
	}
	if op, _, err := cfg.egressOperator(); err != nil || !op.Ceiling.IsNone() || !op.Default.IsNone() {
		t.Fatalf("without egress: %v %v", op, err)
	}
}

// TestEgressTokensAndLists: tokens are the agent's own and the same on
// every replica sharing the key; a list outside a lowered ceiling keeps
// what the ceiling still allows.
func TestEgressTokensAndLists(t *testing.T) {
	key := "0000000000000000000000000000000000000000000000000000000000000001"
	cfg := Config{SecretKey: key}
	h1, h2 := &egressHub{}, &egressHub{}
	var err error
	if h1.key, err = egressKey(cfg); err != nil {
		t.Fatal(err)
	}
	h2.key, _ = egressKey(cfg)
	if h1.token("a") != h2.token("a") || h1.token("a") == h1.token("b") || len(h1.token("a")) < 40 {
		t.Fatalf("tokens: %q %q %q", h1.token("a"), h2.token("a"), h1.token("b"))
	}
	if strings.Contains(h1.token("a"), key[:16]) {
		t.Fatal("the token shows the key")
	}
	h := &egressHub{op: egress.Operator{Ceiling: egress.MustParse("*.example.com:443", "10.0.0.0/8")}}
	if got := h.Effective([]string{"api.example.com:443", "github.com", "10.1.2.0/24"}); !slices.Equal(got, []string{"api.example.com:443", "10.1.2.0/24"}) {
		t.Errorf("Effective = %v", got)
	}
	if got := h.Effective([]string{"github.com"}); !slices.Equal(got, []string{"none"}) {
		t.Errorf("Effective, nothing left = %v", got)
	}
	if _, err := h.Check([]string{"github.com"}); err == nil || !strings.Contains(err.Error(), `"github.com"`) {
		t.Errorf("Check outside the ceiling: %v", err)
	}
	if got, err := h.Check([]string{"API.Example.com:443"}); err != nil || !slices.Equal(got, []string{"api.example.com:443"}) {
		t.Errorf("Check = %v %v", got, err)
	}
}

// TestEgressGrantFromStore: the proxy's lookup, on a real store: an
// agent with a list is granted its list under its own token's hash; one
// without a list, one whose owner is disabled and one deleted are not.
func TestEgressGrantFromStore(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DataDir: t.TempDir()}
	store, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h := &egressHub{op: egress.Operator{Ceiling: egress.All}, store: store}
	if h.key, err = egressKey(cfg); err != nil {
		t.Fatal(err)
	}
	u := &warder.User{ID: uuid.NewString(), Username: "alice", Email: "alice@example.com", PasswordHash: "x", CreatedAt: time.Now()}
	if err := store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	mk := func(egr warder.Egress) *warder.Agent {
		a := &warder.Agent{ID: uuid.NewString(), UserID: u.ID, Name: "a" + uuid.NewString()[:8], Type: "chat", Config: map[string]any{},
			ContainerConfig: warder.ContainerConfig{Image: "i", Network: warder.NetworkInternal, Egress: egr, EnvVars: map[string]string{}},
			Status:          warder.StatusCreated, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := store.CreateAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	listed, plain := mk(warder.Egress{"api.example.com:443"}), mk(nil)
	g, err := h.EgressGrant(ctx, listed.ID)
	if err != nil || g.Agent != listed.ID || g.TokenHash != egress.HashToken(h.token(listed.ID)) || g.Policy.String() != "api.example.com:443" {
		t.Fatalf("grant = %+v, %v", g, err)
	}
	if _, err := h.EgressGrant(ctx, plain.ID); err == nil {
		t.Error("an agent without a list was granted")
	}
	if _, err := h.EgressGrant(ctx, "no-such-agent"); err == nil {
		t.Error("an unknown agent was granted")
	}
	if err := store.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := h.EgressGrant(ctx, listed.ID); err == nil {
		t.Error("a disabled owner's agent was granted")
	}
	if err := store.SetUserDisabled(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteAgent(ctx, listed.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.EgressGrant(ctx, listed.ID); err == nil {
		t.Error("a deleted agent was granted")
	}
}
