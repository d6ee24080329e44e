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

// TestK8sNamespaceSettings: the agents' and the control plane's namespaces
// must be namespace names.
func TestK8sNamespaceSettings(t *testing.T) {
	t.Setenv("WARDER_K8S_CONTROL_NAMESPACE", "Warder_System")
	if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), "WARDER_K8S_CONTROL_NAMESPACE") {
		t.Fatalf("WARDER_K8S_CONTROL_NAMESPACE=Warder_System: %v", err)
	}
	t.Setenv("WARDER_K8S_CONTROL_NAMESPACE", "warder-system")
	if cfg, err := LoadConfig(nil); err != nil || cfg.K8sControlNamespace != "warder-system" {
		t.Fatalf("WARDER_K8S_CONTROL_NAMESPACE=warder-system: %q %v", cfg.K8sControlNamespace, err)
	}
	t.Setenv("WARDER_K8S_NAMESPACE", "-agents")
	if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), "WARDER_K8S_NAMESPACE") {
		t.Fatalf("WARDER_K8S_NAMESPACE=-agents: %v", err)
	}
}
