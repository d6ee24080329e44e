package stats

import (
	"testing"
	"time"

	"github.com/warder/warder"
)

func TestRing(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	sample := func(i int) warder.Stats { return warder.Stats{Pids: uint64(i), ReadAt: at(i)} }
	pids := func(list []warder.Stats) []int {
		out := []int{}
		for _, s := range list {
			out = append(out, int(s.Pids))
		}
		return out
	}
	tests := []struct {
		name     string
		size     int
		added    int // samples 1..added
		since    time.Time
		wantLen  int
		wantLast int // 0: none
		want     []int
	}{
		{"empty", 3, 0, time.Time{}, 0, 0, []int{}},
		{"partly filled, all", 3, 2, time.Time{}, 2, 2, []int{1, 2}},
		{"exactly full", 3, 3, time.Time{}, 3, 3, []int{1, 2, 3}},
		{"wrapped keeps the newest", 3, 7, time.Time{}, 3, 7, []int{5, 6, 7}},
		{"since is inclusive", 3, 7, at(6), 3, 7, []int{6, 7}},
		{"since after the newest", 3, 7, at(8), 3, 7, []int{}},
		{"since before the oldest kept", 3, 7, at(1), 3, 7, []int{5, 6, 7}},
		{"wrapped twice", 4, 10, at(8), 4, 10, []int{8, 9, 10}},
		{"size below one is one", 0, 2, time.Time{}, 1, 2, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRing(tt.size)
			for i := 1; i <= tt.added; i++ {
				r.Add(sample(i))
			}
			if r.Len() != tt.wantLen {
				t.Errorf("Len = %d, want %d", r.Len(), tt.wantLen)
			}
			last, ok := r.Last()
			if ok != (tt.wantLast != 0) || int(last.Pids) != tt.wantLast {
				t.Errorf("Last = %d, %v; want %d", last.Pids, ok, tt.wantLast)
			}
			got := pids(r.Since(tt.since))
			if len(got) != len(tt.want) {
				t.Fatalf("Since = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("Since = %v, want %v", got, tt.want)
				}
			}
		})
	}
}
