package broker

import (
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
