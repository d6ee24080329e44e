package app

import (
	"reflect"
	"strings"
	"testing"
)

// TestCORSSetting: WARDER_CORS_ORIGINS is off when unset, a list of exact
// origins otherwise, a bad origin stops the start, and the flag wins.
// (What CORS does is api.TestCORS.)
func TestCORSSetting(t *testing.T) {
	t.Setenv("WARDER_CORS_ORIGINS", "")
	if cfg, err := LoadConfig(nil); err != nil || cfg.CORSOrigins != nil {
		t.Fatalf("unset: %q %v", cfg.CORSOrigins, err)
	}
	t.Setenv("WARDER_CORS_ORIGINS", "https://app.example.com, http://localhost:3000")
	cfg, err := LoadConfig(nil)
	if want := []string{"https://app.example.com", "http://localhost:3000"}; err != nil || !reflect.DeepEqual(cfg.CORSOrigins, want) {
		t.Fatalf("set: %q %v", cfg.CORSOrigins, err)
	}
	t.Setenv("WARDER_CORS_ORIGINS", "app.example.com")
	if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), "WARDER_CORS_ORIGINS") {
		t.Fatalf("a bad origin: %v", err)
	}
	t.Setenv("WARDER_CORS_ORIGINS", "https://app.example.com")
	if cfg, err := LoadConfig([]string{"-cors-origins", "*"}); err != nil || !reflect.DeepEqual(cfg.CORSOrigins, []string{"*"}) {
		t.Fatalf("-cors-origins over WARDER_CORS_ORIGINS: %q %v", cfg.CORSOrigins, err)
	}
}
