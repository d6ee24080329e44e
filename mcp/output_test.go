package mcp

import (
	"strings"
	"testing"
)

// TestMCPOutputBounds: answers are cut at character boundaries, a tail
// starts at a line where it can, and keeper keeps the first bytes of any
// amount of output and counts the rest.
func TestMCPOutputBounds(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		head string
		tail string
		cut  bool
	}{
		{"abc", 3, "abc", "abc", false},
		{"abcdef", 4, "abcd", "cdef", true},
		{"héllo", 2, "h", "lo", true}, // é is two bytes: never split
		{"one\ntwo\nthree\n", 9, "one\ntwo\nt", "three\n", true},
	} {
		if h, cut := head(c.s, c.n); h != c.head || cut != c.cut {
			t.Errorf("head(%q, %d) = %q, %v", c.s, c.n, h, cut)
		}
		if tl, cut := tail(c.s, c.n); tl != c.tail || cut != c.cut {
			t.Errorf("tail(%q, %d) = %q, %v", c.s, c.n, tl, cut)
		}
	}
	k := keeper{max: 10}
	for range 1000 {
		k.add("0123456")
	}
	if k.kept.String() != "0123456012" || k.total != 7000 || !k.cut() {
		t.Errorf("keeper kept %q of %d", k.kept.String(), k.total)
	}
	k = keeper{max: 10}
	k.add(strings.Repeat("é", 3))
	if k.cut() {
		t.Error("keeper cut what fit")
	}
}
