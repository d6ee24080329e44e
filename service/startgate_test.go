package service

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/warder/warder"
)

// TestEveryStartPathIsGated: POST /start, restart, a chat and the proxy
// all refuse to start an agent that mayStart refuses, for each reason,
// and none of them creates a container.
func TestEveryStartPathIsGated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	paths := map[string]func(s *Service, u *warder.User, id string) error{
		"start": func(s *Service, u *warder.User, id string) error {
			_, err := s.Agents.StartAgent(ctx, u, id)
			return err
		},
		"restart": func(s *Service, u *warder.User, id string) error {
			_, err := s.Agents.RestartAgent(ctx, u, id)
			return err
		},
		"chat": func(s *Service, u *warder.User, id string) error {
			_, err := s.Chat.Chat(ctx, u, id, warder.ChatRequest{Content: "hi"}, nil)
			return err
		},
		"proxy": func(s *Service, u *warder.User, id string) error {
			_, err := s.Chat.AgentEndpoint(ctx, u, id)
			return err
		},
	}
	reasons := map[string]struct {
		change func(s *Service, owner *warder.User) *warder.User // returns the caller
		want   string
	}{
		"image no longer allowed": {func(s *Service, owner *warder.User) *warder.User {
			s.Agents.cfg.Images.Users = []string{"other/*"}
			return owner
		}, "image policy"},
		"egress switched off": {func(s *Service, owner *warder.User) *warder.User {
			s.Agents.cfg.Egress.Forbid = true
			return owner
		}, "WARDER_ALLOW_EGRESS"},
		"read-only key": {func(s *Service, owner *warder.User) *warder.User {
			ro := *owner
			ro.ReadOnly = true
			return &ro
		}, "read-only"},
		"owner disabled, admin starts": {func(s *Service, owner *warder.User) *warder.User {
			if err := s.Agents.store.SetUserDisabled(ctx, owner.ID, true); err != nil {
				t.Fatal(err)
			}
			admin, err := s.Agents.store.UserByLogin(ctx, "root")
			if err != nil {
				t.Fatal(err)
			}
			return admin
		}, "disabled"},
	}
	for reason, r := range reasons {
		for path, do := range paths {
			t.Run(reason+"/"+path, func(t *testing.T) {
				s, rt, _ := newChatService(t)
				mustUser(t, s, "root") // the admin
				alice := mustUser(t, s, "alice")
				a := mustAgent(t, s, alice, "a")
				caller := r.change(s, alice)
				err := do(s, caller, a.ID)
				if !errors.Is(err, warder.ErrForbidden) || !strings.Contains(err.Error(), r.want) {
					t.Fatalf("%s after %q = %v, want 403 naming %q", path, reason, err, r.want)
				}
				if n := rt.Count(); n != 0 {
					t.Fatalf("%s after %q created %d containers", path, reason, n)
				}
			})
		}
	}
}

// TestOnDemandStartAudited: a chat that starts a stopped agent leaves an
// audit entry saying so, and so does one that was refused.
func TestOnDemandStartAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := newChatService(t)
	root := mustUser(t, s, "root")
	alice := mustUser(t, s, "alice")
	a := mustAgent(t, s, alice, "a")
	if _, err := s.Chat.Chat(ctx, alice, a.ID, warder.ChatRequest{Content: "hi"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Agents.StopAgent(ctx, alice, a.ID); err != nil {
		t.Fatal(err)
	}
	s.Agents.cfg.Images.Users = []string{"other/*"}
	if _, err := s.Chat.AgentEndpoint(ctx, alice, a.ID); !errors.Is(err, warder.ErrForbidden) {
		t.Fatalf("proxy start with a forbidden image = %v", err)
	}
	entries, err := s.Admin.AuditLog(ctx, root, warder.AuditQuery{AgentID: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+" "+e.Username+" "+e.Result)
	}
	if len(entries) != 2 || entries[1].Action != "start on demand (chat)" || entries[1].Status != 200 ||
		entries[0].Action != "start on demand (proxy)" || entries[0].Status != 403 {
		t.Fatalf("audit entries: %q", got)
	}
}

// TestCapabilitiesRespected: a restart policy on a runtime without restart
// policies (the fake has none) is refused at create and update, naming
// the runtime, instead of failing at the first start.
func TestCapabilitiesRespected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 10)
	u := mustUser(t, s, "root")
	_, err := s.Agents.CreateAgent(ctx, u, warder.AgentCreate{Name: "a", ContainerConfig: warder.ContainerConfig{RestartPolicy: "on-failure:3"}})
	if !errors.Is(err, warder.ErrInvalid) || !strings.Contains(err.Error(), "fake runtime has no restart policies") {
		t.Fatalf("create with a restart policy = %v", err)
	}
	a := mustAgent(t, s, u, "b")
	policy := "unless-stopped"
	_, err = s.Agents.UpdateAgent(ctx, u, a.ID, warder.AgentUpdate{ContainerConfig: &warder.ContainerConfigUpdate{RestartPolicy: &policy}})
	if !errors.Is(err, warder.ErrInvalid) {
		t.Fatalf("update to a restart policy = %v", err)
	}
}
