package app

import (
	"context"
	"log/slog"

	"github.com/warder/warder"
)

// RotateSecrets re-seals every agent's secrets with the current key,
// opening them with the current or the previous one. Safe to run while
// Warder serves, and to run again.
func RotateSecrets(ctx context.Context, cfg Config, log *slog.Logger) error {
	box, err := openSecrets(cfg)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	agents, err := store.ListAgents(ctx, warder.AgentFilter{})
	if err != nil {
		return err
	}
	resealed := 0
	for _, a := range agents {
		if box.Current(a.SealedSecrets) {
			continue
		}
		env, err := box.Open(a.SealedSecrets)
		if err != nil {
			return err
		}
		sealed, err := box.Seal(env)
		if err != nil {
			return err
		}
		if err := store.ResealSecrets(ctx, a.ID, a.SealedSecrets, sealed); err != nil {
			return err
		}
		resealed++
	}
	log.Info("secrets re-sealed with the current key", "agents", resealed)
	return nil
}
