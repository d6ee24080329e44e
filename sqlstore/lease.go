package sqlstore

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// The leadership lease: work that must happen once among replicas (the
// runtime's events, resyncs, idle auto-stop, health probes, clean-ups) is
// done by the replica holding a session-level advisory lock on a
// connection of its own. PostgreSQL frees the lock when that session ends:
// at once when the holder's process dies (its socket closes), within
// about leaseKeepalive seconds when its host does (the session's TCP
// keepalives, set below). The others try to take it every leaseRetry.
const (
	leaderLockKey = migrationLockKey + 2
	// leaseRetry is how often a replica that does not lead tries to.
	leaseRetry = 500 * time.Millisecond
	// leaseCheck is how often the leader makes sure its session is alive;
	// it steps down when the check fails.
	leaseCheck = time.Second
)

// Lead runs fn whenever this process holds the leadership lease, with a
// context that ends when it stops holding it (or ctx ends), until ctx
// ends; onChange (if not nil) is told each time it gains or loses the
// lease. fn must return once its context ends; the lease is given up only
// after it has. On a database processes do not share (SQLite) this
// process always leads.
func (db *DB) Lead(ctx context.Context, log *slog.Logger, onChange func(leading bool), fn func(ctx context.Context)) {
	if onChange == nil {
		onChange = func(bool) {}
	}
	if !db.dialect.shared {
		onChange(true)
		fn(ctx)
		onChange(false)
		return
	}
	for ctx.Err() == nil {
		if err := db.leadOnce(ctx, log, onChange, fn); err != nil && ctx.Err() == nil {
			log.Warn("leadership lease: database session lost; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(leaseRetry):
		}
	}
}

// leadOnce is one session of Lead: it waits for the lease, then leads
// while the session lives.
func (db *DB) leadOnce(ctx context.Context, log *slog.Logger, onChange func(bool), fn func(context.Context)) error {
	conn, err := pgx.ConnectConfig(ctx, db.pg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background()) // ends the session: frees the lease
	// Make the server notice a vanished host within seconds, not hours
	// (ignored on a Unix socket, where a dead peer is seen at once).
	for _, set := range []string{`SET tcp_keepalives_idle = 2`, `SET tcp_keepalives_interval = 1`, `SET tcp_keepalives_count = 3`} {
		if _, err := conn.Exec(ctx, set); err != nil {
			return err
		}
	}
	for {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(leaderLockKey)).Scan(&got); err != nil {
			return err
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(leaseRetry):
		}
	}
	log.Info("leadership lease taken: this replica now follows the runtime and runs maintenance")
	onChange(true)
	defer onChange(false)
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); fn(lctx) }()
	defer func() { cancel(); <-done }()
	t := time.NewTicker(leaseCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			return nil
		case <-t.C:
			pctx, pcancel := context.WithTimeout(ctx, 2*leaseCheck)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil && ctx.Err() == nil {
				log.Warn("leadership lease lost: stepping down", "err", err)
				return err
			}
		}
	}
}
