package testenv

import (
	"strings"
	"testing"
)

func TestUniqueName(t *testing.T) {
	a, b := UniqueName("warder-test-"), UniqueName("warder-test-")
	if a == b {
		t.Fatalf("two calls returned the same name %q", a)
	}
	if !strings.HasPrefix(a, "warder-test-") || len(a) != len("warder-test-")+12 {
		t.Fatalf("UniqueName = %q, want the prefix and 12 hex digits", a)
	}
}

func TestDocker(t *testing.T) {
	Docker(t) // skips or fails by itself when the engine is down
	if err := pingDocker(); err != nil {
		t.Fatalf("Docker did not skip, yet ping failed: %v", err)
	}
}
