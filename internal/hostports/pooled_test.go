package hostports

import (
	"context"
	"errors"
	"testing"

	"github.com/warder/warder"
)

// TestPoolPorts: a port picked for a pool container is never claimed for
// an agent meanwhile; Adopt hands it to the claiming agent, releasing the
// agent's old one; a port another agent holds cannot be adopted; a
// dropped or adopted port is no longer set aside.
func TestPoolPorts(t *testing.T) {
	ctx := context.Background()
	store := NewMemory()
	p := New(store, 20000, 20002, func(int) bool { return true })
	pooled, err := p.Pick(ctx)
	if err != nil || pooled != 20000 {
		t.Fatalf("Pick = %d, %v", pooled, err)
	}
	if got, err := p.Claim(ctx, "a1"); err != nil || got != 20001 {
		t.Fatalf("Claim beside a pool port = %d, %v; want 20001", got, err)
	}
	p.Hold([]int{20000, 20002}) // with a pool container from before a restart
	if _, err := p.Claim(ctx, "a2"); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("Claim with every other port set aside = %v, want ErrConflict", err)
	}
	if err := p.Adopt(ctx, "a1", pooled); err != nil {
		t.Fatal(err)
	}
	if held, _ := store.PortOf(ctx, "a1"); held != pooled {
		t.Fatalf("a1 holds %d after adopting %d", held, pooled)
	}
	if got, err := p.Claim(ctx, "a2"); err != nil || got != 20001 {
		t.Fatalf("a1's old port: Claim = %d, %v; want 20001", got, err)
	}
	if err := p.Adopt(ctx, "a3", 20001); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("adopting a2's port = %v, want ErrConflict", err)
	}
	p.Drop(20002)
	if got, err := p.Claim(ctx, "a3"); err != nil || got != 20002 {
		t.Fatalf("a dropped pool port: Claim = %d, %v; want 20002", got, err)
	}
}
