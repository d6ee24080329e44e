// Package snapshot stores agents' workspace snapshots: a Store (a local
// directory, DirStore, or an S3-compatible bucket, S3Store) and the
// snapshot format on top of it (Archive): a tar stream of the workspace,
// compressed with zstd and checksummed with SHA-256 as it streams, plus a
// JSON manifest written last, so that only complete snapshots are ever
// listed. Reading verifies the checksum at the end of the stream; see
// Archive.Restore for the contract a restoring caller follows, and
// docs/snapshots.md for the whole design.
package snapshot
