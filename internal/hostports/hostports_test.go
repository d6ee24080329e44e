package hostports

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/warder/warder"
)

// TestPortAllocator: concurrent claims get distinct ports from the range,
// skipping one that something else listens on; a full range is a conflict
// naming it; an agent keeps the port it holds while it is free; a port the
// engine failed to bind is avoided; a released port is handed out again.
func TestPortAllocator(t *testing.T) {
	ctx := context.Background()
	busy := 20003
	store := NewMemory()
	p := New(store, 20000, 20049, func(port int) bool { return port != busy })
	const n = 49 // the range holds 50 ports, one of them busy
	got := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			port, err := p.Claim(ctx, fmt.Sprintf("a%d", i))
			if err != nil {
				t.Errorf("claim %d: %v", i, err)
			}
			got[i] = port
		})
	}
	wg.Wait()
	seen := map[int]bool{}
	for _, port := range got {
		if seen[port] || port == busy || port < 20000 || port > 20049 {
			t.Fatalf("port %d handed out wrongly; all: %v", port, got)
		}
		seen[port] = true
	}
	if _, err := p.Claim(ctx, "late"); !errors.Is(err, warder.ErrConflict) || !strings.Contains(err.Error(), "20000-20049") {
		t.Fatalf("claim with the range exhausted: %v", err)
	}
	if port, err := p.Claim(ctx, "a7"); err != nil || port != got[7] {
		t.Fatalf("a second claim of a7 = %d, %v; want its own %d", port, err, got[7])
	}
	if err := p.Release(ctx, "a7", got[7]+1000); err != nil {
		t.Fatal(err)
	}
	if held, _ := store.PortOf(ctx, "a7"); held != got[7] {
		t.Fatalf("releasing another port freed a7's %d", got[7])
	}
	must(t, p.Release(ctx, "a7", 0))
	if port, err := p.Claim(ctx, "late"); err != nil || port != got[7] {
		t.Fatalf("after a release: %d, %v; want the freed %d", port, err, got[7])
	}
	p.MarkBad(got[7])
	must(t, p.Release(ctx, "a8", 0))
	if port, err := p.Claim(ctx, "late"); err != nil || port != got[8] {
		t.Fatalf("late's port %d went bad: got %d, %v; want %d", got[7], port, err, got[8])
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
