package app

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/warder/warder/snapshot"
)

// SnapshotSettings say where agents' snapshots live and how many a user
// may keep (docs/snapshots.md). With no S3 bucket named they live in
// Dir, by default <data dir>/snapshots.
type SnapshotSettings struct {
	// Dir is the local store's directory (WARDER_SNAPSHOT_DIR; default
	// <WARDER_DATA_DIR>/snapshots).
	Dir string
	// S3 is an S3-compatible bucket instead (WARDER_SNAPSHOT_S3_ENDPOINT,
	// _BUCKET, _PREFIX, _ACCESS_KEY, _SECRET_KEY, _REGION); used when
	// Bucket is set. Path-style addressing unless
	// WARDER_SNAPSHOT_S3_PATH_STYLE=false.
	S3 snapshot.S3Config
	// PerAgent bounds one agent's snapshots
	// (WARDER_MAX_SNAPSHOTS_PER_AGENT, default 20) and UserBytes what all
	// of a user's take in the store (WARDER_MAX_SNAPSHOT_BYTES_PER_USER,
	// default 20g). Set to 0 they are no bound (-1 here); left at 0 here,
	// the service's defaults.
	PerAgent  int
	UserBytes int64
}

// loadSnapshotSettings reads the snapshot settings from the environment.
func loadSnapshotSettings() (SnapshotSettings, error) {
	var s SnapshotSettings
	var err error
	s.Dir = os.Getenv("WARDER_SNAPSHOT_DIR")
	s.S3 = snapshot.S3Config{
		Endpoint:  os.Getenv("WARDER_SNAPSHOT_S3_ENDPOINT"),
		Bucket:    os.Getenv("WARDER_SNAPSHOT_S3_BUCKET"),
		Prefix:    os.Getenv("WARDER_SNAPSHOT_S3_PREFIX"),
		AccessKey: os.Getenv("WARDER_SNAPSHOT_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("WARDER_SNAPSHOT_S3_SECRET_KEY"),
		Region:    os.Getenv("WARDER_SNAPSHOT_S3_REGION"),
		PathStyle: os.Getenv("WARDER_SNAPSHOT_S3_PATH_STYLE") != "false",
	}
	if s.PerAgent, err = envInt("WARDER_MAX_SNAPSHOTS_PER_AGENT", 0); err != nil {
		return s, err
	}
	if s.PerAgent == 0 && env("WARDER_MAX_SNAPSHOTS_PER_AGENT", "") != "" {
		s.PerAgent = -1 // 0 is no bound, as for the other bounds
	}
	if s.UserBytes, err = envBytes("WARDER_MAX_SNAPSHOT_BYTES_PER_USER", 0); err != nil {
		return s, err
	}
	if s.PerAgent < -1 {
		return s, fmt.Errorf("WARDER_MAX_SNAPSHOTS_PER_AGENT must not be negative (0: no bound)")
	}
	if s.S3.Bucket == "" && (s.S3.Endpoint != "" || s.S3.AccessKey != "" || s.S3.Prefix != "") {
		return s, fmt.Errorf("WARDER_SNAPSHOT_S3_BUCKET is needed with the other WARDER_SNAPSHOT_S3_ settings")
	}
	return s, nil
}

// openSnapshotStore opens the store the settings name: the S3 bucket if
// one is named, else the directory (made 0700 if missing), with a
// warning on a shared database: each replica would see its own.
func openSnapshotStore(cfg Config, log *slog.Logger) (snapshot.Store, error) {
	s := cfg.Snapshots
	if s.S3.Bucket != "" {
		st, err := snapshot.NewS3Store(s.S3)
		if err != nil {
			return nil, fmt.Errorf("snapshot store (WARDER_SNAPSHOT_S3_*): %w", err)
		}
		return st, nil
	}
	if cfg.DatabaseURL != "" {
		log.Warn("snapshots are kept in a local directory: replicas sharing the database each see only their own; set WARDER_SNAPSHOT_S3_BUCKET for one store they share")
	}
	dir := s.Dir
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "snapshots")
	}
	st, err := snapshot.NewDirStore(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot store (WARDER_SNAPSHOT_DIR): %w", err)
	}
	return st, nil
}
