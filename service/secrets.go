package service

import (
	"context"
	"sort"

	"github.com/warder/warder"
)

// Sealer encrypts agents' secret env vars (package secret's Box).
type Sealer interface {
	Seal(env map[string]string) (string, error)
	Open(sealed string) (map[string]string, error)
}

// seal moves secrets given in a's container_config into a.SealedSecrets,
// so only their names stay in the clear. A nil SecretEnv means "unchanged".
func (s *Agents) seal(a *warder.Agent) error {
	env := a.ContainerConfig.SecretEnv
	if env == nil {
		return nil
	}
	a.ContainerConfig.SecretEnv = nil
	if len(env) > 0 && s.cfg.Secrets == nil {
		return warder.Errorf(warder.ErrInvalid, "secret_env is not available: no secret key is configured")
	}
	sealed := ""
	if len(env) > 0 {
		var err error
		if sealed, err = s.cfg.Secrets.Seal(env); err != nil {
			return err
		}
	}
	a.SealedSecrets = sealed
	a.ContainerConfig.SecretEnvNames = names(env)
	return nil
}

// names are the sorted keys of env, never nil so the API shows [].
func names(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k := range env {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// withSecrets adds the agent's opened secrets to a container spec.
func (s *Agents) withSecrets(ctx context.Context, a *warder.Agent, spec *warder.WorkloadSpec) error {
	if a.SealedSecrets == "" {
		return nil
	}
	if s.cfg.Secrets == nil {
		return warder.Errorf(warder.ErrInvalid, "the agent has secrets but no secret key is configured")
	}
	env, err := s.cfg.Secrets.Open(a.SealedSecrets)
	if err != nil {
		s.log.ErrorContext(ctx, "opening agent secrets", "agent", a.ID, "err", err)
		return warder.Errorf(warder.ErrConflict, "the agent's secrets cannot be opened with the configured key; see the README on key rotation")
	}
	for k, v := range env {
		spec.Env[k] = v
	}
	return nil
}
