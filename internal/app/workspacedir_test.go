package app

import (
	"path/filepath"
	"testing"
)

// TestWorkspaceDirSetting: bounded workspaces live under the data
// directory unless WARDER_WORKSPACE_DIR names another place, or "off".
func TestWorkspaceDirSetting(t *testing.T) {
	data := t.TempDir()
	t.Setenv("WARDER_DATA_DIR", data)
	for env, want := range map[string]string{"": filepath.Join(data, "workspaces"), "off": "", "/srv/ws": "/srv/ws"} {
		t.Setenv("WARDER_WORKSPACE_DIR", env)
		c, err := LoadConfig(nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.WorkspaceDir != want {
			t.Errorf("WARDER_WORKSPACE_DIR=%q: %q, want %q", env, c.WorkspaceDir, want)
		}
	}
}
