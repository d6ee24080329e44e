package broker

import (
	"context"
	"testing"

	"github.com/warder/warder"
)

func TestBroker(t *testing.T) {
	b := New(2)
	a, cancelA := b.Subscribe()
	z, cancelZ := b.Subscribe()
	defer cancelZ()
	if b.Subscribers() != 2 {
		t.Fatalf("Subscribers = %d, want 2", b.Subscribers())
	}
	for _, to := range []warder.Status{warder.StatusStarting, warder.StatusRunning, warder.StatusStopped} {
		b.Publish(warder.StatusChange{AgentID: "x", To: to})
	}
	// Each subscriber got the first two in order; the third was dropped
	// for both, without blocking Publish.
	for _, ch := range []<-chan warder.StatusChange{a, z} {
		if c := <-ch; c.To != warder.StatusStarting {
			t.Fatalf("first change = %v", c.To)
		}
		if c := <-ch; c.To != warder.StatusRunning {
			t.Fatalf("second change = %v", c.To)
		}
	}
	if b.Dropped() != 2 {
		t.Fatalf("Dropped = %d, want 2", b.Dropped())
	}
	cancelA()
	cancelA() // safe twice
	if _, ok := <-a; ok {
		t.Fatal("channel still open after cancel")
	}
	b.Publish(warder.StatusChange{To: warder.StatusExited}) // no panic on the closed one
	if c := <-z; c.To != warder.StatusExited || b.Subscribers() != 1 {
		t.Fatalf("after cancel: %v, %d subscribers", c.To, b.Subscribers())
	}
}

// TestBrokerNumbersAndKeeps: changes without an id are numbered in order,
// one with an id keeps it (and later ones are numbered after it), and
// Since returns the kept changes after an id, the newest Kept of them.
func TestBrokerNumbersAndKeeps(t *testing.T) {
	b := New(0)
	b.Publish(warder.StatusChange{AgentID: "a"})
	b.Publish(warder.StatusChange{AgentID: "b"})
	all, _ := b.Since(context.Background(), 0)
	if len(all) != 2 || all[1].ID != all[0].ID+1 || all[0].ID <= 0 {
		t.Fatalf("numbered: %+v", all)
	}
	b.Publish(warder.StatusChange{AgentID: "c", ID: all[1].ID + 100})
	b.Publish(warder.StatusChange{AgentID: "d"})
	after, _ := b.Since(context.Background(), all[1].ID)
	if len(after) != 2 || after[0].AgentID != "c" || after[1].ID != all[1].ID+101 {
		t.Fatalf("after %d: %+v", all[1].ID, after)
	}
	for range Kept {
		b.Publish(warder.StatusChange{AgentID: "x"})
	}
	kept, _ := b.Since(context.Background(), 0)
	if len(kept) != Kept || kept[0].AgentID != "x" {
		t.Fatalf("kept %d, oldest %+v", len(kept), kept[0])
	}
}
