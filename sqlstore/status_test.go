package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/warder/warder"
)

func testStatus(t *testing.T, open opener) {
	ctx := context.Background()
	db := open(t)
	u := MustCreateUser(t, db, "alice")
	a := MustCreateAgent(t, db, u.ID, "a")
	other := MustCreateAgent(t, db, u.ID, "b")

	// A status change and its history are written together.
	code := 137
	a.Status, a.StatusReason, a.ExitCode, a.RestartCount = warder.StatusFailed, "OOMKilled", &code, 2
	a.StatusChangedAt = time.Date(2026, 11, 27, 5, 0, 0, 123456789, time.UTC)
	for i, to := range []warder.Status{warder.StatusStarting, warder.StatusRunning, warder.StatusFailed} {
		ev := &warder.AgentEvent{AgentID: a.ID, At: a.StatusChangedAt.Add(time.Duration(i) * time.Second), From: "x", To: to, Reason: "r", Actor: "docker"}
		wantNoErr(t, db.RecordStatus(ctx, a, ev))
		if ev.ID == 0 {
			t.Fatal("RecordStatus left the event id unset")
		}
	}
	wantNoErr(t, db.RecordStatus(ctx, other, &warder.AgentEvent{AgentID: other.ID, At: time.Now(), From: "created", To: "starting"}))
	// What the metrics scrape reads: counts by status, in the database.
	counts, err := db.AgentsByStatus(ctx)
	wantNoErr(t, err)
	if len(counts) != 2 || counts[warder.StatusFailed] != 1 || counts[other.Status] != 1 {
		t.Errorf("AgentsByStatus = %v, want failed 1 and %s 1", counts, other.Status)
	}
	got, err := db.Agent(ctx, a.ID)
	wantNoErr(t, err)
	if got.Status != warder.StatusFailed || got.StatusReason != "OOMKilled" || got.ExitCode == nil || *got.ExitCode != 137 ||
		got.RestartCount != 2 || !got.StatusChangedAt.Equal(a.StatusChangedAt.Truncate(time.Microsecond)) {
		t.Fatalf("agent after RecordStatus: %+v", got)
	}
	events, err := db.AgentEvents(ctx, a.ID, 2)
	wantNoErr(t, err)
	if len(events) != 2 || events[0].To != warder.StatusRunning || events[1].To != warder.StatusFailed || events[1].Actor != "docker" {
		t.Fatalf("latest two events, oldest first: %+v %+v", events[0], events[1])
	}

	// last_used_at is written only by TouchAgent, never by a stale UpdateAgent.
	used := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	wantNoErr(t, db.TouchAgent(ctx, a.ID, used))
	wantNoErr(t, db.UpdateAgent(ctx, a))
	got, _ = db.Agent(ctx, a.ID)
	if !got.LastUsedAt.Equal(used) {
		t.Fatalf("last_used_at = %v, want %v", got.LastUsedAt, used)
	}
	wantNoErr(t, db.TouchAgent(ctx, "no-such-agent", used))

	// Deleting the agent deletes its history.
	wantNoErr(t, db.DeleteAgent(ctx, a.ID))
	events, err = db.AgentEvents(ctx, a.ID, 10)
	wantNoErr(t, err)
	if len(events) != 0 {
		t.Fatalf("%d events outlived their agent", len(events))
	}
}
