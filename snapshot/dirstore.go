package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/warder/warder"
)

// DirStore keeps objects as files under a directory: key "a/b" is the
// file <Dir>/a/b. A Put writes a hidden temp file beside it
// (".<name>.partial-<random>") and renames it into place once complete
// and synced, so a crash leaves only hidden temp files, which List skips
// and RemoveIncomplete removes.
type DirStore struct {
	dir string
}

// partialMark is in the name of every temp file a Put writes.
const partialMark = ".partial-"

var _ Store = (*DirStore)(nil)

// NewDirStore makes dir (0700) if missing and returns a store over it.
func NewDirStore(dir string) (*DirStore, error) {
	if dir == "" {
		return nil, warder.Errorf(warder.ErrInvalid, "snapshot store: no directory given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	return &DirStore{dir: abs}, nil
}

// Dir is the store's directory.
func (s *DirStore) Dir() string { return s.dir }

func (s *DirStore) path(key string) string {
	return filepath.Join(s.dir, filepath.FromSlash(key))
}

// Put implements Store.
func (s *DirStore) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	final := s.path(key)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return 0, fmt.Errorf("snapshot store: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(final), "."+filepath.Base(final)+partialMark+"*")
	if err != nil {
		return 0, fmt.Errorf("snapshot store: %w", err)
	}
	n, err := s.write(ctx, f, final, r)
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return 0, err
	}
	return n, nil
}

// write fills f from r, syncs it and renames it to final; the caller
// removes f if it fails.
func (s *DirStore) write(ctx context.Context, f *os.File, final string, r io.Reader) (int64, error) {
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err != nil {
		return n, err
	}
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("snapshot store: %w", err)
	}
	if err := f.Close(); err != nil {
		return n, fmt.Errorf("snapshot store: %w", err)
	}
	if err := os.Rename(f.Name(), final); err != nil {
		return n, fmt.Errorf("snapshot store: %w", err)
	}
	// The rename is durable once the directory is synced.
	if d, err := os.Open(filepath.Dir(final)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return n, nil
}

// Get implements Store.
func (s *DirStore) Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return nil, ObjectInfo{}, err
	}
	f, err := os.Open(s.path(key))
	if err != nil {
		return nil, ObjectInfo{}, s.fsErr(key, err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, ObjectInfo{}, warder.Errorf(warder.ErrNotFound, "snapshot store: %s not found", key)
	}
	return f, ObjectInfo{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// Stat implements Store.
func (s *DirStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, err
	}
	st, err := os.Stat(s.path(key))
	if err != nil {
		return ObjectInfo{}, s.fsErr(key, err)
	}
	if !st.Mode().IsRegular() {
		return ObjectInfo{}, warder.Errorf(warder.ErrNotFound, "snapshot store: %s not found", key)
	}
	return ObjectInfo{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// List implements Store. It walks only the directory prefix names.
func (s *DirStore) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	var out []ObjectInfo
	err := s.walk(prefix, func(key string, d fs.DirEntry, info fs.FileInfo) {
		if !strings.HasPrefix(d.Name(), ".") && strings.HasPrefix(key, prefix) {
			out = append(out, ObjectInfo{Key: key, Size: info.Size(), ModTime: info.ModTime()})
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, err
}

// walk calls fn for every regular file under the directory part of
// prefix, with its key.
func (s *DirStore) walk(prefix string, fn func(key string, d fs.DirEntry, info fs.FileInfo)) error {
	root := s.dir
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		root = s.path(prefix[:i])
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		fn(filepath.ToSlash(rel), d, info)
		return nil
	})
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	return nil
}

// Delete implements Store. It also removes the directories that the
// deletion left empty (not the store's own).
func (s *DirStore) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	p := s.path(key)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("snapshot store: %w", err)
	}
	s.removeEmptyParents(p)
	return nil
}

// removeEmptyParents removes the directories above p that are left
// empty, up to (not including) the store's own.
func (s *DirStore) removeEmptyParents(p string) {
	for d := filepath.Dir(p); d != s.dir && strings.HasPrefix(d, s.dir); d = filepath.Dir(d) {
		if os.Remove(d) != nil { // not empty (or gone): stop
			break
		}
	}
}

// RemoveIncomplete implements Store: it removes temp files of Puts
// last written before before.
func (s *DirStore) RemoveIncomplete(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.walk("", func(key string, d fs.DirEntry, info fs.FileInfo) {
		if strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), partialMark) && info.ModTime().Before(before) {
			if os.Remove(s.path(key)) == nil {
				s.removeEmptyParents(s.path(key))
				n++
			}
		}
	})
	return n, err
}

func (s *DirStore) fsErr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return warder.Errorf(warder.ErrNotFound, "snapshot store: %s not found", key)
	}
	return fmt.Errorf("snapshot store: %w", err)
}

// ctxReader ends a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
