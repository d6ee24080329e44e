package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warder/warder"
)

// The status feed: on PostgreSQL every status change is also a row of
// status_feed, written in the transaction that records it, numbered in
// commit order, with a notification on feedChannel. Every replica LISTENs
// and reads the new rows, so a change any replica records reaches every
// replica's event streams; a client that reconnects asks any replica for
// the rows after the last id it saw (Since).
//
// The same connection listens on agentChannel, where a trigger (migration
// 0010) names every agent row written, by any process, so that each
// replica's row cache (rowCache) drops it.
const (
	feedChannel  = "warder_status"
	agentChannel = "warder_agents"
	// feedLockKey serializes the feed's inserts (see appendFeed).
	feedLockKey = migrationLockKey + 1
	// FeedWindow is how long changes are kept for clients that reconnect.
	FeedWindow = time.Hour
	// FeedReplayMax bounds the changes one Since returns.
	FeedReplayMax = 10000
)

// appendFeed adds ev, a change of a, to the feed, inside tx. The lock
// (released by the commit) makes ids grow in commit order: a reader that
// has seen id n never later finds a row below n committed after it read.
// It is held from the insert to the commit only.
func appendFeed(ctx context.Context, tx *sql.Tx, a *warder.Agent, ev *warder.AgentEvent) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(feedLockKey)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO status_feed (at, agent_id, agent_name, user_id, container_id, from_status, to_status, reason, actor)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		ev.At, a.ID, a.Name, a.UserID, a.ContainerID, string(ev.From), string(ev.To), ev.Reason, ev.Actor)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `SELECT pg_notify($1, '')`, feedChannel)
	return err
}

// Feed follows the status feed of a PostgreSQL database; see Run and
// Since. Nil on SQLite, whose changes stay in one process.
type Feed struct {
	db  *DB
	log *slog.Logger
	// start is the newest id when the feed was made: Run delivers every
	// change after it.
	start int64
}

// Feed returns the database's status feed, which Run will follow from the
// newest change now, or nil when the database is not one processes share.
// Make it before anyone can subscribe: a follower that replays with Since
// and then takes Run's changes misses nothing only if Run starts no later
// than its replay.
func (db *DB) Feed(ctx context.Context, log *slog.Logger) (_ *Feed, err error) {
	if !db.dialect.shared {
		return nil, nil
	}
	defer db.classify(&err)
	f := &Feed{db: db, log: log}
	if err := db.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM status_feed`).Scan(&f.start); err != nil {
		return nil, fmt.Errorf("sqlstore: status feed: %w", err)
	}
	return f, nil
}

// Since returns the changes after id still kept (FeedWindow), oldest
// first, at most FeedReplayMax of them.
func (f *Feed) Since(ctx context.Context, id int64) (_ []warder.StatusChange, err error) {
	defer f.db.classify(&err)
	return f.after(ctx, id, FeedReplayMax)
}

func (f *Feed) after(ctx context.Context, id int64, limit int) ([]warder.StatusChange, error) {
	rows, err := f.db.db.QueryContext(ctx, `
		SELECT id, at, agent_id, agent_name, user_id, container_id, from_status, to_status, reason, actor
		FROM status_feed WHERE id > $1 ORDER BY id LIMIT $2`, id, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: status feed: %w", err)
	}
	defer rows.Close()
	var out []warder.StatusChange
	for rows.Next() {
		var c warder.StatusChange
		if err := rows.Scan(&c.ID, utcTime{&c.At}, &c.AgentID, &c.AgentName, &c.UserID, &c.ContainerID, &c.From, &c.To, &c.Reason, &c.Actor); err != nil {
			return nil, fmt.Errorf("sqlstore: status feed: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: status feed: %w", err)
	}
	return out, nil
}

// Run hands every change recorded since the feed was made, by any
// process, to deliver, in order, until ctx ends. It listens on a connection of its
// own; when that breaks it reconnects (every second while the database is
// down) and delivers what was recorded meanwhile, so nothing is missed
// unless the outage outlasts FeedWindow. It also prunes changes older
// than FeedWindow. While it listens, the database's agent rows may be
// served from memory (CachedAgent); while it does not, they are not.
func (f *Feed) Run(ctx context.Context, deliver func(warder.StatusChange)) {
	last := f.start
	var pruned time.Time
	for ctx.Err() == nil {
		err := f.listen(ctx, &last, &pruned, deliver)
		if ctx.Err() != nil {
			return
		}
		f.log.Warn("status feed: listening failed; reconnecting", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// listen is one connection's life of Run.
func (f *Feed) listen(ctx context.Context, last *int64, pruned *time.Time, deliver func(warder.StatusChange)) error {
	conn, err := pgx.ConnectConfig(ctx, f.db.pg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+feedChannel+"; LISTEN "+agentChannel); err != nil {
		return err
	}
	f.db.rows.listening(true)
	defer f.db.rows.listening(false)
	// Listening before reading what came after *last: nothing committed
	// later goes unnoticed.
	for {
		if err := f.catchUp(ctx, last, deliver); err != nil {
			return err
		}
		if time.Since(*pruned) > time.Minute {
			*pruned = time.Now()
			if _, err := f.db.db.ExecContext(ctx, `DELETE FROM status_feed WHERE at < $1`, now().Add(-FeedWindow)); err != nil {
				f.log.Warn("status feed: pruning", "err", err)
			}
		}
		if err := f.wait(ctx, conn); err != nil {
			return err
		}
	}
}

// wait returns when the feed may have new changes, or after 30 s (time
// to prune). Agent rows notified meanwhile are dropped from the cache at
// once, with no query.
func (f *Feed) wait(ctx context.Context, conn *pgx.Conn) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		n, err := conn.WaitForNotification(wctx)
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return nil
		case err != nil:
			return err
		case n.Channel != agentChannel:
			return nil
		}
		f.db.rows.notified(n.Payload)
	}
}

// catchUp delivers every change after *last.
func (f *Feed) catchUp(ctx context.Context, last *int64, deliver func(warder.StatusChange)) error {
	for {
		list, err := f.after(ctx, *last, 1000)
		if err != nil {
			return err
		}
		for _, c := range list {
			deliver(c)
			*last = c.ID
		}
		if len(list) < 1000 {
			return nil
		}
	}
}
