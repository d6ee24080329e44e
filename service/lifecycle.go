package service

import (
	"context"
	"errors"

	"github.com/warder/warder"
)

// StartAgent creates the agent's container when it has none, then starts
// it. Starting a running agent succeeds.
func (s *Service) StartAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	if _, err := s.owned(ctx, caller, id); err != nil {
		return nil, err
	}
	defer s.locks.Lock(id)()
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	if err := s.ensureContainer(ctx, a); err != nil {
		return nil, err
	}
	if err := s.rt.Start(ctx, a.ContainerID); err != nil {
		if errors.Is(err, warder.ErrNotFound) {
			// Removed behind our back between create and start.
			a.ContainerID = ""
		}
		return nil, s.failed(ctx, a, err)
	}
	return a, s.record(ctx, a, warder.StatusRunning)
}

// ensureContainer makes sure a.ContainerID names an existing container,
// creating one (and claiming a host port) when needed.
func (s *Service) ensureContainer(ctx context.Context, a *warder.Agent) error {
	if a.ContainerID != "" {
		_, err := s.rt.Inspect(ctx, a.ContainerID)
		if err == nil {
			return nil
		}
		if !errors.Is(err, warder.ErrNotFound) {
			return err
		}
		a.ContainerID = ""
	}
	if err := s.setup(ctx); err != nil {
		return err
	}
	if a.HostPort == 0 {
		port, err := s.allocatePort(ctx, a.ID)
		if err != nil {
			return err
		}
		a.HostPort = port
	}
	spec, err := warder.SpecFor(a, s.cfg.Spec)
	if err != nil {
		return err
	}
	cid, err := s.create(ctx, spec)
	if err != nil {
		return err
	}
	a.ContainerID, a.ContainerName = cid, spec.Name
	return s.store.UpdateAgent(ctx, a)
}

// create makes the container, clearing away a leftover of the same name
// (from a start that was interrupted before its id was saved) and redoing
// setup once if the network or image went missing.
func (s *Service) create(ctx context.Context, spec warder.ContainerSpec) (string, error) {
	cid, err := s.rt.Create(ctx, spec)
	switch {
	case errors.Is(err, warder.ErrConflict):
		if err := s.rt.Remove(ctx, spec.Name); err != nil {
			return "", err
		}
	case errors.Is(err, warder.ErrNotFound):
		s.setupMu.Lock()
		s.setupDone = false
		s.setupMu.Unlock()
		if err := s.setup(ctx); err != nil {
			return "", err
		}
	default:
		return cid, err
	}
	return s.rt.Create(ctx, spec)
}

// setup runs Runtime.Setup until it has succeeded once.
func (s *Service) setup(ctx context.Context) error {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	if s.setupDone {
		return nil
	}
	if err := s.rt.Setup(ctx); err != nil {
		return err
	}
	s.setupDone = true
	return nil
}

// StopAgent stops the agent's container; its container and port are kept
// for the next start.
func (s *Service) StopAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	if _, err := s.owned(ctx, caller, id); err != nil {
		return nil, err
	}
	defer s.locks.Lock(id)()
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	return a, s.stop(ctx, a)
}

func (s *Service) stop(ctx context.Context, a *warder.Agent) error {
	if a.ContainerID == "" {
		return warder.Errorf(warder.ErrConflict, "agent has no container: it has never been started")
	}
	err := s.rt.Stop(ctx, a.ContainerID, s.cfg.StopTimeout)
	if errors.Is(err, warder.ErrNotFound) {
		a.ContainerID, a.ContainerName = "", ""
		a.ContainerStatus = "removed"
		if err := s.store.UpdateAgent(ctx, a); err != nil {
			return err
		}
		return warder.Errorf(warder.ErrConflict, "agent container no longer exists; start the agent to create a new one")
	}
	if err != nil {
		return err
	}
	return s.record(ctx, a, warder.StatusStopped)
}

// RestartAgent stops the agent when it is running, then starts it.
func (s *Service) RestartAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	if a.ContainerID != "" {
		if _, err := s.StopAgent(ctx, caller, id); err != nil && !errors.Is(err, warder.ErrConflict) {
			return nil, err
		}
	}
	return s.StartAgent(ctx, caller, id)
}

// record saves status together with what the runtime says of the container.
func (s *Service) record(ctx context.Context, a *warder.Agent, status warder.Status) error {
	a.Status = status
	if st, err := s.rt.Inspect(ctx, a.ContainerID); err == nil {
		a.ContainerStatus = st.Status
	}
	return s.store.UpdateAgent(ctx, a)
}

// failed records a failed start and returns its cause. Docker being down
// changes nothing: the agent's state is unknown, not failed.
func (s *Service) failed(ctx context.Context, a *warder.Agent, cause error) error {
	if errors.Is(cause, warder.ErrUnavailable) {
		return cause
	}
	if err := s.record(ctx, a, warder.StatusError); err != nil {
		s.log.Error("recording failed start", "agent", a.ID, "err", err)
	}
	return cause
}
