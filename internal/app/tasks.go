package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/warder/warder"
)

// Setup prepares the runtime (for Docker: the agent network and the
// default image); idempotent.
func Setup(ctx context.Context, cfg Config, log *slog.Logger) error {
	rt, err := openRuntime(cfg, nil, log)
	if err != nil {
		return err
	}
	defer rt.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancel()
	if err := rt.Setup(ctx); err != nil {
		return err
	}
	log.Info("setup done", "network", cfg.Network, "image", cfg.Image)
	return nil
}

// Migrate brings the database schema up to date.
func Migrate(ctx context.Context, cfg Config, log *slog.Logger) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	v, err := store.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	log.Info("database schema is up to date", "version", v, "database", dbName(cfg))
	return nil
}

// SetRole makes a user an admin or a plain user again.
func SetRole(ctx context.Context, cfg Config, username, role string) error {
	r := warder.Role(strings.ToLower(role))
	if r != warder.RoleAdmin && r != warder.RoleUser {
		return fmt.Errorf("role must be admin or user, not %q", role)
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.SetUserRole(ctx, username, r); err != nil {
		return err
	}
	fmt.Printf("%s is now %s\n", username, r)
	return nil
}
