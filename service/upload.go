package service

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/warder/warder"
)

// maxUploadEntries bounds the entries of one uploaded tar, and
// maxUploadDepth how deep one may be nested (as warder-agent's fsop).
const (
	maxUploadEntries = 100_000
	maxUploadDepth   = 256
)

// An upload is checked whole before any of it reaches the workspace: it
// is spooled to a temporary file (never held in memory), its size and
// every tar entry checked, the owner's room checked, and only then
// written. So a refused upload (a bad path, a link, too large, over the
// quota) leaves nothing behind; a write that fails half-way removes the
// entries it made.

// WriteFile writes r (at most the upload bound) to path in the agent's
// workspace, replacing what is there.
func (s *Files) WriteFile(ctx context.Context, caller *warder.User, id, p string, r io.Reader, _ int64) (*warder.FileWritten, error) {
	dir, base, err := cleanTarget(p)
	if err != nil {
		return nil, err
	}
	c, err := s.fileTarget(ctx, caller, id, p)
	if err != nil {
		return nil, err
	}
	defer c.done()
	if st, err := c.fr.StatFile(ctx, c.cid, path.Join(dir, base)); err == nil && st.Type != warder.FileTypeFile {
		return nil, warder.Errorf(warder.ErrConflict, "%s is a %s: only a file can be replaced by a file", path.Join(dir, base), st.Type)
	} else if err != nil && !errors.Is(err, warder.ErrNotFound) {
		return nil, err
	}
	f, n, err := s.spoolRaw(r)
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	tarOf := func() io.Reader {
		pr, pw := io.Pipe()
		go func() {
			tw := tar.NewWriter(pw)
			err := tw.WriteHeader(&tar.Header{Name: base, Typeflag: tar.TypeReg, Mode: 0o644, Size: n, ModTime: time.Now()})
			if err == nil {
				_, err = io.Copy(tw, io.NewSectionReader(f, 0, n))
			}
			if err == nil {
				err = tw.Close()
			}
			pw.CloseWithError(err)
		}()
		return pr
	}
	if err := s.write(ctx, c, dir, n, tarOf); err != nil {
		return nil, err
	}
	return &warder.FileWritten{Path: path.Join(dir, base), Files: 1, Bytes: n}, nil
}

// WriteTarTo extracts the tar r into directory path of the workspace.
func (s *Files) WriteTarTo(ctx context.Context, caller *warder.User, id, p string, r io.Reader) (*warder.FileWritten, error) {
	c, err := s.fileTarget(ctx, caller, id, p)
	if err != nil {
		return nil, err
	}
	defer c.done()
	f, files, n, err := s.spoolTar(r)
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	tarOf := func() io.Reader { return io.NewSectionReader(f, 0, 1<<62) }
	if err := s.write(ctx, c, c.rel, n, tarOf); err != nil {
		return nil, err
	}
	return &warder.FileWritten{Path: c.rel, Files: files, Bytes: n}, nil
}

// write checks the room for n bytes and writes the checked tar into dir,
// under the owner's workspace lock so two uploads cannot together pass
// the quota. A write that fails is undone by the runtime itself (what it
// made at the top is removed, in the same helper call), so the cost of
// a failure does not grow with the upload's names.
func (s *Files) write(ctx context.Context, c *fileCall, dir string, n int64, tarOf func() io.Reader) error {
	defer s.locks.Lock("workspace:" + c.a.UserID)()
	if err := s.checkRoom(ctx, c.a, n); err != nil {
		return err
	}
	return c.fr.WriteTar(ctx, c.cid, dir, tarOf())
}

// spoolFile is a temporary file in the spool directory.
func (s *Files) spoolFile() (*os.File, error) {
	if d := s.cfg.SpoolDir; d != "" {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("spooling an upload: %w", err)
		}
	}
	f, err := os.CreateTemp(s.cfg.SpoolDir, "warder-upload-*")
	if err != nil {
		return nil, fmt.Errorf("spooling an upload: %w", err)
	}
	return f, nil
}

// spoolRaw copies r to a spool file, refusing more than the bound.
func (s *Files) spoolRaw(r io.Reader) (*os.File, int64, error) {
	f, err := s.spoolFile()
	if err != nil {
		return nil, 0, err
	}
	max := s.cfg.UploadBytes
	n, err := io.Copy(f, io.LimitReader(r, max+1))
	if err == nil && n > max {
		err = tooLarge(max)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, bodyError(err)
	}
	return f, n, nil
}

// spoolTar checks every entry of the tar r and writes it, normalized,
// to a spool file: files and directories only, names inside the target,
// permissions without setuid, setgid or sticky bits, no owners (the
// runtime sets them), at most the upload bound of file bytes.
func (s *Files) spoolTar(r io.Reader) (_ *os.File, files int, n int64, err error) {
	f, err := s.spoolFile()
	if err != nil {
		return nil, 0, 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	max := s.cfg.UploadBytes
	tr := tar.NewReader(io.LimitReader(r, max+max/8+1<<20)) // headers and padding too
	tw := tar.NewWriter(f)
	for entries := 0; ; entries++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, 0, bodyError(err)
		}
		if entries >= maxUploadEntries {
			return nil, 0, 0, warder.Errorf(warder.ErrTooLarge, "the tar has more than %d entries", maxUploadEntries)
		}
		name, err := warder.CleanPath(strings.TrimPrefix(h.Name, "./"))
		if err != nil {
			return nil, 0, 0, warder.Errorf(warder.ErrInvalid, "tar entry %q: %s", clipName(h.Name), warder.ErrorMessage(err))
		}
		if strings.Count(name, "/") >= maxUploadDepth {
			return nil, 0, 0, warder.Errorf(warder.ErrInvalid, "tar entry %q is nested deeper than %d directories", clipName(h.Name), maxUploadDepth)
		}
		out := &tar.Header{Name: name, Mode: h.Mode & 0o777, ModTime: h.ModTime}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			out.Typeflag, out.Size = tar.TypeReg, h.Size
			files++
		case tar.TypeDir:
			if name == "" {
				continue // the target itself
			}
			out.Typeflag, out.Name = tar.TypeDir, name+"/"
		default:
			return nil, 0, 0, warder.Errorf(warder.ErrInvalid, "tar entry %q is a link or a device: only files and directories may be uploaded", clipName(h.Name))
		}
		if name == "" {
			return nil, 0, 0, warder.Errorf(warder.ErrInvalid, "tar entry %q has no name", clipName(h.Name))
		}
		if n += out.Size; n > max {
			return nil, 0, 0, tooLarge(max)
		}
		if err := tw.WriteHeader(out); err != nil {
			return nil, 0, 0, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, 0, 0, bodyError(err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, 0, 0, err
	}
	// Read what follows the tar's end (tar programs pad archives to a
	// record) up to a bound, so the server reaches the body's end and
	// notices a client that leaves while the upload is written.
	io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	return f, files, n, nil
}

func tooLarge(max int64) error {
	return warder.Errorf(warder.ErrTooLarge, "the upload is larger than %d bytes (WARDER_MAX_UPLOAD_BYTES)", max)
}

// bodyError is a failure to read an upload: the caller's, unless it
// already has a kind.
func bodyError(err error) error {
	switch {
	case warder.ErrorMessage(err) != "":
		return err
	case errors.Is(err, tar.ErrHeader), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, tar.ErrFieldTooLong):
		return warder.Errorf(warder.ErrInvalid, "the body is not a valid tar: %v", err)
	}
	return warder.Errorf(warder.ErrInvalid, "the upload could not be read: %v", err)
}

func clipName(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
