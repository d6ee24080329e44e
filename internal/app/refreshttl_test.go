package app

import (
	"strings"
	"testing"
	"time"
)

// TestRefreshTTLSetting: WARDER_REFRESH_TTL is 7 days by default, the
// -refresh-ttl flag wins over it, and a refresh token may not expire
// before the token it renews.
func TestRefreshTTLSetting(t *testing.T) {
	if cfg, err := LoadConfig(nil); err != nil || cfg.RefreshTTL != 7*24*time.Hour {
		t.Fatalf("default: %s %v, want 168h", cfg.RefreshTTL, err)
	}
	t.Setenv("WARDER_REFRESH_TTL", "72h")
	if cfg, err := LoadConfig(nil); err != nil || cfg.RefreshTTL != 72*time.Hour {
		t.Fatalf("WARDER_REFRESH_TTL=72h: %s %v", cfg.RefreshTTL, err)
	}
	if cfg, err := LoadConfig([]string{"-refresh-ttl", "30h"}); err != nil || cfg.RefreshTTL != 30*time.Hour {
		t.Fatalf("-refresh-ttl 30h over WARDER_REFRESH_TTL=72h: %s %v", cfg.RefreshTTL, err)
	}
	t.Setenv("WARDER_REFRESH_TTL", "1h") // under WARDER_TOKEN_TTL's 24h
	if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), "WARDER_REFRESH_TTL") {
		t.Fatalf("WARDER_REFRESH_TTL=1h: %v", err)
	}
	t.Setenv("WARDER_REFRESH_TTL", "a week")
	if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), "WARDER_REFRESH_TTL") {
		t.Fatalf("WARDER_REFRESH_TTL=a week: %v", err)
	}
}
