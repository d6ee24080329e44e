package service

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/warder/warder"
)

func TestGlobMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, image string
		want           bool
	}{
		{"warder/agent:latest", "warder/agent:latest", true},
		{"warder/agent:latest", "warder/agent:v2", false},
		{"warder/*", "warder/agent:v2", true},
		{"warder/*", "evil/warder/agent", false},
		{"registry.example.com/team/*:v*", "registry.example.com/team/bot:v3", true},
		{"registry.example.com/team/*:v*", "registry.example.com/team/bot:latest", false},
		{"*", "anything/at:all", true},
		{"a.b", "aXb", false}, // dots are literal
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.image); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v", tt.pattern, tt.image, got)
		}
	}
}

func TestImagePolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 10)
	s.Agents.cfg.Images = ImagePolicy{Admins: []string{"warder/agent:latest", "team/*"}}
	admin, user := mustUser(t, s, "root"), mustUser(t, s, "alice")
	_, err := s.Agents.CreateAgent(ctx, user, warder.AgentCreate{Name: "a", ContainerConfig: warder.ContainerConfig{Image: "team/bot:1"}})
	if !errors.Is(err, warder.ErrForbidden) || !strings.Contains(err.Error(), "WARDER_ALLOWED_IMAGES: warder/agent:latest") {
		t.Fatalf("user with another image: %v", err)
	}
	if _, err := s.Agents.CreateAgent(ctx, user, warder.AgentCreate{Name: "b"}); err != nil {
		t.Fatalf("user with the default image: %v", err)
	}
	a, err := s.Agents.CreateAgent(ctx, admin, warder.AgentCreate{Name: "c", ContainerConfig: warder.ContainerConfig{Image: "team/bot:1"}})
	if err != nil {
		t.Fatalf("admin with an allowed image: %v", err)
	}
	img := "other/bot:1"
	_, err = s.Agents.UpdateAgent(ctx, admin, a.ID, warder.AgentUpdate{ContainerConfig: &warder.ContainerConfigUpdate{Image: &img}})
	if !errors.Is(err, warder.ErrForbidden) || !strings.Contains(err.Error(), "WARDER_ADMIN_ALLOWED_IMAGES") {
		t.Fatalf("admin switching to a forbidden image: %v", err)
	}
}
