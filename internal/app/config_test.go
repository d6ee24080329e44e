package app

import (
	"strings"
	"testing"
)

// TestRegistrationSetting: WARDER_REGISTRATION is open or closed, and the
// -registration flag wins over it. (What closed registration does is
// api.TestRegistrationClosed.)
func TestRegistrationSetting(t *testing.T) {
	t.Setenv("WARDER_REGISTRATION", "maybe")
	if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), "WARDER_REGISTRATION") {
		t.Fatalf("WARDER_REGISTRATION=maybe: %v", err)
	}
	t.Setenv("WARDER_REGISTRATION", "closed")
	if cfg, err := LoadConfig([]string{"-registration", "open"}); err != nil || cfg.Registration != "open" {
		t.Fatalf("-registration open over WARDER_REGISTRATION=closed: %q %v", cfg.Registration, err)
	}
}
