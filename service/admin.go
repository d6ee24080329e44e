package service

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/warder/warder"
)

// Admin is what only admins may do, and the audit log.
type Admin struct {
	*core
	agents *Agents
	auth   *Auth
}

func requireAdmin(caller *warder.User) error {
	if !caller.IsAdmin() {
		return warder.Errorf(warder.ErrForbidden, "only an admin may do this")
	}
	return nil
}

// ListUsers lists every user, for an admin.
func (s *Admin) ListUsers(ctx context.Context, caller *warder.User) ([]*warder.User, error) {
	if err := requireAdmin(caller); err != nil {
		return nil, err
	}
	return s.store.ListUsers(ctx)
}

// SetUserDisabled disables a user — their tokens end at once (the store
// deletes them; API keys of a disabled user are refused) and their agents
// are stopped — or enables them again.
func (s *Admin) SetUserDisabled(ctx context.Context, caller *warder.User, id string, disabled bool) error {
	if err := requireAdmin(caller); err != nil {
		return err
	}
	if _, err := uuid.Parse(id); err != nil {
		return warder.Errorf(warder.ErrInvalid, "user id %q is not a valid id", id)
	}
	if disabled && id == caller.ID {
		return warder.Errorf(warder.ErrConflict, "an admin cannot disable their own account")
	}
	if err := s.store.SetUserDisabled(ctx, id, disabled); err != nil {
		return err
	}
	s.auth.ForgetUser(id) // their tokens are gone, their keys refused
	if !disabled {
		return nil
	}
	agents, err := s.store.ListAgents(ctx, warder.AgentFilter{UserID: id, Statuses: resourceStatuses})
	if err != nil {
		return err
	}
	for _, a := range agents {
		if a.ContainerID == "" || !holdsResources(a.Status) {
			continue
		}
		if err := s.stopFor(ctx, a.ID, actor(caller), "owner disabled by "+caller.Username); err != nil {
			return fmt.Errorf("stopping agent %s of the disabled user: %w", a.ID, err)
		}
	}
	return nil
}

// stopFor stops an agent under its lock, on behalf of the system or an admin.
func (s *Admin) stopFor(ctx context.Context, id, who, reason string) error {
	defer s.locks.Lock(id)()
	a, err := s.store.Agent(ctx, id)
	if err != nil {
		return err
	}
	if a.ContainerID == "" {
		return nil
	}
	return s.agents.stop(ctx, a, who, reason)
}

// SetUserLimits replaces a user's quota overrides, for an admin.
func (s *Admin) SetUserLimits(ctx context.Context, caller *warder.User, id string, l warder.Limits) (warder.Usage, error) {
	if err := requireAdmin(caller); err != nil {
		return warder.Usage{}, err
	}
	if err := validLimits(l); err != nil {
		return warder.Usage{}, err
	}
	if err := s.store.SetUserLimits(ctx, id, l); err != nil {
		return warder.Usage{}, err
	}
	return s.usageOf(ctx, caller, id)
}

func validLimits(l warder.Limits) error {
	neg := (l.Agents != nil && *l.Agents < 0) || (l.RunningAgents != nil && *l.RunningAgents < 0) ||
		(l.MemoryBytes != nil && *l.MemoryBytes < 0) || (l.CPUs != nil && *l.CPUs < 0) ||
		(l.AgentMemoryBytes != nil && *l.AgentMemoryBytes < 0) || (l.AgentCPUs != nil && *l.AgentCPUs < 0)
	for _, p := range []*int64{l.LLMTokensPerDay, l.LLMTokensPerMonth, l.AgentLLMTokensPerDay, l.AgentLLMTokensPerMonth} {
		neg = neg || (p != nil && *p < 0)
	}
	if neg {
		return warder.Errorf(warder.ErrInvalid, "limits must not be negative (0 means unlimited, null the default)")
	}
	return nil
}

// Usage is a user's limits and use: the caller's own, or anyone's for an
// admin. Another user's usage is ErrNotFound for a non-admin.
func (s *Admin) Usage(ctx context.Context, caller *warder.User, userID string) (warder.Usage, error) {
	if userID == "" {
		userID = caller.ID
	}
	if userID != caller.ID && !caller.IsAdmin() {
		return warder.Usage{}, warder.Errorf(warder.ErrNotFound, "user not found")
	}
	return s.usageOf(ctx, caller, userID)
}

// usageOf is usage with the image policy of the user it is about.
func (s *Admin) usageOf(ctx context.Context, caller *warder.User, userID string) (warder.Usage, error) {
	u, err := s.agents.usage(ctx, userID)
	if err != nil {
		return u, err
	}
	owner := caller
	if userID != caller.ID {
		if owner, err = s.store.UserByID(ctx, userID); err != nil {
			return warder.Usage{}, err
		}
	}
	u.Images = s.agents.imagesAllowed(owner)
	return u, nil
}

// SystemStatus is overall health and use, for an admin.
func (s *Admin) SystemStatus(ctx context.Context, caller *warder.User) (*warder.SystemStatus, error) {
	if err := requireAdmin(caller); err != nil {
		return nil, err
	}
	st := &warder.SystemStatus{
		Database: "ok", Runtime: "ok", RuntimeName: s.rt.Info().Name, AgentsByStatus: map[warder.Status]int{},
		PortRange: s.rt.Info().HostPortRange, CheckedAt: time.Now().UTC(),
	}
	if err := s.rt.Ping(ctx); err != nil {
		st.Runtime = "unavailable: " + errText(err)
	}
	users, err := s.store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	st.Users = len(users)
	agents, err := s.store.ListAgents(ctx, warder.AgentFilter{})
	if err != nil {
		return nil, err
	}
	for _, a := range agents {
		st.AgentsByStatus[a.Status]++
		if a.HostPort != 0 {
			st.PortsInUse++
		}
	}
	return st, nil
}

// CreateUser makes a plain user, as registration would (see
// Auth.CreateUser): the way in when registration is closed.
func (s *Admin) CreateUser(ctx context.Context, caller *warder.User, req warder.RegisterRequest) (*warder.User, error) {
	return s.auth.CreateUser(ctx, caller, req)
}
