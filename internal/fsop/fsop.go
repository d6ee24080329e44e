// Package fsop holds what warder-agent's `fsop` built-in and the runtimes
// that run it agree on: its exit codes and what each means to a caller.
package fsop

import "github.com/warder/warder"

// Exit codes of `warder-agent fsop`.
const (
	OK       = 0
	Failed   = 1 // anything else; the message says what
	Usage    = 2
	NotFound = 3 // the path does not exist
	Invalid  = 4 // a link on the way, a name too long, an escaping name
	NotDir   = 5 // not a directory where one is needed (or the reverse)
	Conflict = 6 // the filesystem refused: permission, another kind there
	Full     = 7 // the workspace is full
)

// Err is the error for an fsop that exited with code and wrote msg on
// its standard error; notDir is the kind a NotDir is for the call (an
// invalid request for a listing, a conflict for an upload). Failed and
// unknown codes are nil: the caller reports those as its own failure.
func Err(code int, msg string, notDir error) error {
	switch code {
	case OK:
		return nil
	case NotFound:
		return warder.Errorf(warder.ErrNotFound, "%s", msg)
	case Invalid:
		return warder.Errorf(warder.ErrInvalid, "%s", msg)
	case NotDir:
		return warder.Errorf(notDir, "%s", msg)
	case Conflict:
		return warder.Errorf(warder.ErrConflict, "%s", msg)
	case Full:
		return warder.Errorf(warder.ErrTooLarge, "%s", msg)
	}
	return nil
}
