package sqlstore

import (
	"context"
	"database/sql/driver"
	"hash/fnv"
	"sync"
	"time"

	"github.com/warder/warder"
)

var _ warder.Locker = (*DB)(nil)

// Lock takes key across every process sharing the database: on PostgreSQL
// a session-level advisory lock, held on a pool connection kept aside
// until unlock (released by PostgreSQL if this process dies). On SQLite,
// one process's database, it returns at once: the caller's in-process
// lock is the whole story. Keys are hashed to the lock's 64 bits; two
// keys that collide only take turns needlessly.
func (db *DB) Lock(ctx context.Context, key string) (_ func(), err error) {
	if !db.dialect.shared {
		return func() {}, nil
	}
	defer db.classify(&err)
	select {
	case db.lockSlots() <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release := func() { <-db.lockSlots() }
	conn, err := db.db.Conn(ctx)
	if err != nil {
		release()
		return nil, err
	}
	k := lockKey(key)
	discard := func() {
		// A connection whose lock state is unknown must not go back to
		// the pool: closing its session frees whatever it holds.
		conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
		release()
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, k); err != nil {
		discard()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, k); err != nil {
				discard()
				return
			}
			conn.Close()
			release()
		})
	}, nil
}

// lockSlots is the semaphore of Lock, made on first use.
func (db *DB) lockSlots() chan struct{} {
	db.slotsOnce.Do(func() { db.slots = make(chan struct{}, pgMaxOpenConns/2) })
	return db.slots
}

// lockKey is key as an advisory lock's number: FNV-1a, 64 bits.
func lockKey(key string) int64 {
	h := fnv.New64a()
	h.Write([]byte("warder:" + key))
	return int64(h.Sum64())
}
