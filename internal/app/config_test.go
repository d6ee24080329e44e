package app

import (
	"strings"
	"testing"

	"github.com/warder/warder/sqlstore"
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

// TestSQLiteSynchronousSetting: WARDER_SQLITE_SYNCHRONOUS is normal by
// default, full on request (any case), and nothing else.
func TestSQLiteSynchronousSetting(t *testing.T) {
	if cfg, err := LoadConfig(nil); err != nil || cfg.SQLiteSync != sqlstore.SyncNormal {
		t.Fatalf("default: %q %v, want normal", cfg.SQLiteSync, err)
	}
	t.Setenv("WARDER_SQLITE_SYNCHRONOUS", "FULL")
	if cfg, err := LoadConfig(nil); err != nil || cfg.SQLiteSync != sqlstore.SyncFull {
		t.Fatalf("WARDER_SQLITE_SYNCHRONOUS=FULL: %q %v", cfg.SQLiteSync, err)
	}
	t.Setenv("WARDER_SQLITE_SYNCHRONOUS", "off")
	if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), "WARDER_SQLITE_SYNCHRONOUS") {
		t.Fatalf("WARDER_SQLITE_SYNCHRONOUS=off: %v", err)
	}
}
