package app

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warder/warder/snapshot"
)

// TestSnapshotSettings: by default a directory under the data dir; a
// bucket with the S3 settings; 0 is no bound; S3 settings without a
// bucket are refused.
func TestSnapshotSettings(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("WARDER_DATA_DIR", dir)
	cfg, err := LoadConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openSnapshotStore(cfg, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if ds, ok := st.(*snapshot.DirStore); !ok || ds.Dir() != filepath.Join(dir, "snapshots") {
		t.Fatalf("default store: %T %+v", st, st)
	}
	if cfg.Snapshots.PerAgent != 0 || cfg.Snapshots.UserBytes != 0 {
		t.Fatalf("defaults: %+v", cfg.Snapshots)
	}

	t.Setenv("WARDER_MAX_SNAPSHOTS_PER_AGENT", "0")
	t.Setenv("WARDER_MAX_SNAPSHOT_BYTES_PER_USER", "0")
	t.Setenv("WARDER_SNAPSHOT_S3_BUCKET", "snaps")
	t.Setenv("WARDER_SNAPSHOT_S3_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("WARDER_SNAPSHOT_S3_PREFIX", "warder/")
	t.Setenv("WARDER_SNAPSHOT_S3_ACCESS_KEY", "k")
	t.Setenv("WARDER_SNAPSHOT_S3_SECRET_KEY", "s")
	if cfg, err = LoadConfig(nil); err != nil {
		t.Fatal(err)
	}
	if cfg.Snapshots.PerAgent != -1 || cfg.Snapshots.UserBytes != -1 || cfg.Snapshots.S3.Bucket != "snaps" || !cfg.Snapshots.S3.PathStyle {
		t.Fatalf("set: %+v", cfg.Snapshots)
	}
	if st, err = openSnapshotStore(cfg, slog.Default()); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*snapshot.S3Store); !ok {
		t.Fatalf("with a bucket: %T", st)
	}

	t.Setenv("WARDER_SNAPSHOT_S3_BUCKET", "")
	if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), "WARDER_SNAPSHOT_S3_BUCKET") {
		t.Fatalf("S3 settings without a bucket: %v", err)
	}
}
