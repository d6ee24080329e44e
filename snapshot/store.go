package snapshot

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/warder/warder"
)

// Store is where snapshot objects live: a directory (DirStore) or an
// S3-compatible bucket (S3Store). Objects are named by keys of
// slash-separated segments of letters, digits, '.', '_' and '-' (no empty,
// "." or ".." segment, none starting with '.').
//
// Contract:
//   - Every method is safe for concurrent use.
//   - Put streams r to the store without holding it whole in memory, and
//     the object appears under key only once all of r is stored: a reader
//     never sees a partial object. If Put fails (r's error, ctx ended, the
//     store failing) nothing is left under key and Put removes what it
//     wrote; after a crash mid-Put the leftovers are invisible to Get, Stat
//     and List, and RemoveIncomplete removes them. Put replaces an object
//     already under key.
//   - Get, Stat: a missing key is an error wrapping warder.ErrNotFound.
//   - List returns the objects whose keys start with prefix, in key order.
//   - Delete of a missing key is success, so Delete is safe to call twice.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// Get opens the object for reading; its Size is the object's length.
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	Delete(ctx context.Context, key string) error
	// RemoveIncomplete removes what Puts interrupted by a crash left (temp
	// files, unfinished multipart uploads) that were started before
	// before, and says how many it removed. A Put still running that
	// started before before loses its upload: pass a time older than the
	// longest Put can take.
	RemoveIncomplete(ctx context.Context, before time.Time) (int, error)
}

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// checkKey enforces the key syntax Store documents, so no key can leave a
// DirStore's directory or an S3Store's prefix.
func checkKey(key string) error {
	if key == "" || len(key) > 512 {
		return warder.Errorf(warder.ErrInvalid, "snapshot store: bad key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if !validSegment(seg) {
			return warder.Errorf(warder.ErrInvalid, "snapshot store: bad key %q", key)
		}
	}
	return nil
}

// checkPrefix accepts "" and any key prefix whose complete segments are
// valid (the last one may be partial, or empty after a trailing '/').
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	segs := strings.Split(prefix, "/")
	for i, seg := range segs {
		if i == len(segs)-1 && (seg == "" || validChars(seg)) {
			break
		}
		if !validSegment(seg) {
			return warder.Errorf(warder.ErrInvalid, "snapshot store: bad prefix %q", prefix)
		}
	}
	return nil
}

func validSegment(seg string) bool {
	return seg != "" && seg[0] != '.' && validChars(seg)
}

func validChars(s string) bool {
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}
