// Package fsat is the workspace's file operations, every path resolved
// from an open root one element at a time with O_NOFOLLOW (fsat.go):
// warder-agent's fsop built-in runs them in a helper as the agent's
// user, and the Docker runtime runs Tar in process on a bounded
// workspace's host mount (docker/boundedws.go). It imports nothing of
// Warder's, so the agent stays small.
package fsat

import (
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// Exit codes: internal/fsop's (which this package does not import, to stay
// small: warder-agent builds it in; warder-agent's TestFsopCodes checks
// they agree): 0 ok, 1 failed, 2 usage, 3 not
// found, 4 a link or an invalid name, 5 not a directory, 6 refused by the
// filesystem, 7 the workspace is full.
const (
	NotFound = 3
	Invalid  = 4
	NotDir   = 5
	Conflict = 6
	Full     = 7
)

// Entry is one file as fsop reports it.
type Entry struct {
	Name  string      `json:"name"`
	Mode  fs.FileMode `json:"mode"`
	Size  int64       `json:"size"`
	MTime int64       `json:"mtime_ns"`
}

// fsError carries an exit code with its message.
type fsError struct {
	code int
	msg  string
}

func (e *fsError) Error() string { return e.msg }

// Code is err's exit code: the kind of refusal, or Failed (1) for an
// error of no kind.
func Code(err error) int {
	if fe := (*fsError)(nil); errors.As(err, &fe) {
		return fe.code
	}
	return 1
}

// errnoError turns a system call's refusal on rel into an fsError whose
// code says what kind of refusal it was.
func errnoError(rel string, err error) error {
	if fe := (*fsError)(nil); errors.As(err, &fe) {
		return err
	}
	if rel == "" {
		rel = "the workspace root"
	}
	switch {
	case errors.Is(err, unix.ENOENT):
		return &fsError{NotFound, rel + " does not exist in the workspace"}
	case errors.Is(err, unix.ELOOP):
		return &fsError{Invalid, rel + " is a symlink: the files API does not follow links"}
	case errors.Is(err, unix.ENOTDIR):
		return &fsError{NotDir, rel + ": a part of the path is not a directory"}
	case errors.Is(err, unix.ENAMETOOLONG):
		return &fsError{Invalid, rel + ": a name in the path is longer than 255 bytes"}
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT):
		return &fsError{Full, rel + ": the workspace is full"}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM), errors.Is(err, unix.EROFS):
		return &fsError{Conflict, rel + ": permission denied (the agent's own permissions apply)"}
	case errors.Is(err, unix.EEXIST), errors.Is(err, unix.EISDIR), errors.Is(err, unix.ENOTEMPTY), errors.Is(err, unix.ENXIO):
		return &fsError{Conflict, rel + ": " + err.Error()}
	}
	return fmt.Errorf("%s: %w", rel, err)
}
