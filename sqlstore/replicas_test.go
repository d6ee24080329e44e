package sqlstore

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warder/warder"
)

// What replicas share through the database, tested on two handles that
// stand for two processes (see mustOpenTwo).

// TestPostgresAttemptsShared: increments of one key raced over two
// handles all count; fn's error stores nothing.
func TestPostgresAttemptsShared(t *testing.T) {
	t.Parallel()
	a, b := mustOpenTwo(t)
	ctx := context.Background()
	const n = 40
	errs := race(n, [2]*DB{a, b}, func(i int, db *DB) error {
		return db.UpdateAttempts(ctx, []string{"address:x", "account:y"}, func(recs []*warder.Attempts) error {
			for _, r := range recs {
				r.Count++
				r.Last = time.Now()
			}
			return nil
		})
	})
	for _, err := range errs {
		wantNoErr(t, err)
	}
	var got []warder.Attempts
	err := b.UpdateAttempts(ctx, []string{"account:y", "address:x"}, func(recs []*warder.Attempts) error {
		for _, r := range recs {
			got = append(got, *r)
			r.Count = 1000 // not stored: fn fails
		}
		return warder.ErrConflict
	})
	if !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("fn's error came back as %v", err)
	}
	if len(got) != 2 || got[0].Count != n || got[1].Count != n || got[0].Key != "account:y" {
		t.Fatalf("after %d increments: %+v", n, got)
	}
	wantNoErr(t, a.UpdateAttempts(ctx, []string{"address:x"}, func(recs []*warder.Attempts) error {
		if recs[0].Count != n {
			t.Errorf("a failed update was stored: %+v", recs[0])
		}
		return nil
	}))
	wantNoErr(t, a.ForgetAttempts(ctx, time.Now().Add(time.Minute)))
	wantNoErr(t, a.UpdateAttempts(ctx, []string{"address:x"}, func(recs []*warder.Attempts) error {
		if recs[0].Count != 0 {
			t.Errorf("forgotten record: %+v", recs[0])
		}
		return nil
	}))
}

// TestPostgresLockShared: a key's lock taken on one handle keeps the
// other waiting, so read-modify-writes under it never overlap.
func TestPostgresLockShared(t *testing.T) {
	t.Parallel()
	a, b := mustOpenTwo(t)
	ctx := context.Background()
	var inside, overlaps atomic.Int32
	errs := race(30, [2]*DB{a, b}, func(i int, db *DB) error {
		unlock, err := db.Lock(ctx, "quota:alice")
		if err != nil {
			return err
		}
		defer unlock()
		if inside.Add(1) > 1 {
			overlaps.Add(1)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
		inside.Add(-1)
		return nil
	})
	for _, err := range errs {
		wantNoErr(t, err)
	}
	if overlaps.Load() > 0 {
		t.Fatalf("%d holders overlapped", overlaps.Load())
	}
	// Another key is not held up by a held one.
	unlock, err := a.Lock(ctx, "quota:alice")
	wantNoErr(t, err)
	defer unlock()
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	other, err := b.Lock(tctx, "quota:bob")
	wantNoErr(t, err)
	other()
}

// TestPostgresFeedShared: a change recorded through one handle reaches the
// feed followed on the other, and Since replays it by id.
func TestPostgresFeedShared(t *testing.T) {
	t.Parallel()
	a, b := mustOpenTwo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan warder.StatusChange, 10)
	feed, err := b.Feed(context.Background(), slog.Default())
	wantNoErr(t, err)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	u := MustCreateUser(t, a, "alice")
	ag := MustCreateAgent(t, a, u.ID, "fed")
	// Every change after the feed was made arrives, in order, even one
	// recorded before Run listens.
	record(t, a, ag, warder.StatusStarting)
	wg.Go(func() { feed.Run(ctx, func(c warder.StatusChange) { got <- c }) })
	var first warder.StatusChange
	select {
	case first = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the feed never delivered a change")
	}
	record(t, a, ag, warder.StatusRunning)
	record(t, a, ag, warder.StatusStopped)
	var ids []int64
	for len(ids) < 2 {
		select {
		case c := <-got:
			if c.ID <= first.ID || c.AgentID != ag.ID || c.UserID != u.ID || c.AgentName != "fed" {
				t.Fatalf("delivered %+v after %+v", c, first)
			}
			ids = append(ids, c.ID)
		case <-time.After(5 * time.Second):
			t.Fatal("a change did not reach the other handle's feed")
		}
	}
	replay, err := feed.Since(ctx, first.ID)
	wantNoErr(t, err)
	if len(replay) != 2 || replay[0].ID != ids[0] || replay[1].ID != ids[1] || replay[1].To != warder.StatusStopped {
		t.Fatalf("Since(%d) = %+v, delivered %v", first.ID, replay, ids)
	}
	// A deletion is the agent's last change, on the feed too.
	ev := &warder.AgentEvent{AgentID: ag.ID, At: time.Now(), From: ag.Status, To: warder.StatusDeleted, Actor: "test"}
	wantNoErr(t, a.RecordDeletion(ctx, ag, ev))
	select {
	case c := <-got:
		if c.AgentID != ag.ID || c.To != warder.StatusDeleted || c.ID <= ids[1] {
			t.Fatalf("after the deletion: %+v", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the deletion did not reach the other handle's feed")
	}
	wantErr(t, a.RecordDeletion(ctx, ag, ev), warder.ErrNotFound, "agent not found")
}

// record moves ag to status through db, as the service does.
func record(t *testing.T, db *DB, ag *warder.Agent, to warder.Status) {
	t.Helper()
	ev := &warder.AgentEvent{AgentID: ag.ID, At: time.Now(), From: ag.Status, To: to, Actor: "test"}
	ag.Status = to
	wantNoErr(t, db.RecordStatus(context.Background(), ag, ev))
}

// TestPostgresLeadShared: of two handles one leads; when it stops, the
// other leads within a second or so.
func TestPostgresLeadShared(t *testing.T) {
	t.Parallel()
	a, b := mustOpenTwo(t)
	var leading [2]atomic.Bool
	ctxs := [2]context.Context{}
	cancels := [2]context.CancelFunc{}
	var wg sync.WaitGroup
	for i, db := range []*DB{a, b} {
		ctxs[i], cancels[i] = context.WithCancel(context.Background())
		wg.Go(func() {
			db.Lead(ctxs[i], slog.Default(), nil, func(ctx context.Context) {
				leading[i].Store(true)
				<-ctx.Done()
				leading[i].Store(false)
			})
		})
	}
	defer func() { cancels[0](); cancels[1](); wg.Wait() }()
	waitOne := func() int {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			l0, l1 := leading[0].Load(), leading[1].Load()
			if l0 && l1 {
				t.Fatal("both lead")
			}
			if l0 != l1 {
				if l0 {
					return 0
				}
				return 1
			}
			if time.Now().After(deadline) {
				t.Fatal("nobody leads")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	first := waitOne()
	stopped := time.Now()
	cancels[first]()
	for !leading[1-first].Load() {
		if time.Since(stopped) > 5*time.Second {
			t.Fatal("the other handle did not take the lease within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("the other handle led %s after the first stopped", time.Since(stopped).Round(time.Millisecond))
}

// TestSQLiteAlone: on SQLite there is no feed, Lock returns at once, and
// this process leads.
func TestSQLiteAlone(t *testing.T) {
	t.Parallel()
	db := MustOpenSQLite(t)
	if f, err := db.Feed(context.Background(), slog.Default()); f != nil || err != nil {
		t.Fatal("SQLite has a feed")
	}
	unlock, err := db.Lock(context.Background(), "quota:x")
	wantNoErr(t, err)
	unlock()
	unlock()
	ran := false
	db.Lead(context.Background(), slog.Default(), nil, func(context.Context) { ran = true })
	if !ran {
		t.Fatal("Lead did not run fn on SQLite")
	}
}
