package service

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/warder/warder"
)

// A snapshot holds the workspace's tar as the runtime's ReadTar of the
// root gave it: on Docker and Kubernetes (warder-agent fsop) every name
// under the mount's own name ("data/..."). Putting it back goes through
// the runtime's WriteTar, which takes files and directories only, names
// relative to the target, and which commits what it wrote (renames its
// staged files into place) only when it meets the archive's end. So the
// end is written only once the source has ended cleanly: for a snapshot,
// after its checksum was verified (snapshot.Reader); a source that fails
// ends the stream with a block no tar reader accepts instead, and
// WriteTar removes what it staged.

// rootName is the name a workspace root's tar puts everything under.
var rootName = path.Base(warder.WorkspaceMountPath)

// copyTree copies the workspace tar src into w as WriteTar takes it and
// says how many entries it left out (symbolic links, devices: WriteTar
// makes neither).
func copyTree(w io.Writer, src io.Reader) (skipped int, err error) {
	tr := tar.NewReader(src)
	tw := tar.NewWriter(w)
	prefix := "" // the root's own name, once the first entry shows it
	for first := true; ; first = false {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return skipped, err
		}
		name := strings.TrimPrefix(h.Name, "./")
		if first && h.Typeflag == tar.TypeDir && strings.TrimSuffix(name, "/") == rootName {
			prefix = rootName + "/"
			continue
		}
		if prefix != "" {
			rest, ok := strings.CutPrefix(name, prefix)
			if !ok {
				return skipped, fmt.Errorf("workspace tar: entry %q outside %s", clipName(h.Name), prefix)
			}
			name = rest
		}
		rel, err := warder.CleanPath(strings.TrimSuffix(name, "/"))
		if err != nil || rel == "" {
			skipped++
			continue
		}
		out := &tar.Header{Name: rel, Mode: h.Mode & 0o777, ModTime: h.ModTime}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			out.Typeflag, out.Size = tar.TypeReg, h.Size
		case tar.TypeDir:
			out.Typeflag, out.Name = tar.TypeDir, rel+"/"
		default:
			skipped++
			continue
		}
		if err := tw.WriteHeader(out); err != nil {
			return skipped, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return skipped, err
		}
	}
	// A tar reader stops at the archive's end marker: the source's verdict
	// comes with the end of its stream.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return skipped, err
	}
	if err := tw.Flush(); err != nil {
		return skipped, err
	}
	return skipped, tw.Close()
}

// badBlock is a tar header block no tar reader accepts (its checksum is
// wrong): written where a failed source would otherwise end at an entry's
// boundary, which a tar reader takes for the archive's end.
var badBlock = func() []byte {
	b := make([]byte, 512)
	for i := range b {
		b[i] = 0xff
	}
	return b
}()

// writeTree fills the workspace of workload cid from the workspace tar
// src through the runtime's WriteTar into its root, and says how many
// entries it left out. Nothing is committed unless src ended cleanly.
func writeTree(ctx context.Context, fr warder.FileRuntime, cid string, src io.Reader) (skipped int, err error) {
	pr, pw := io.Pipe()
	type result struct {
		skipped int
		err     error
	}
	done := make(chan result, 1)
	go func() {
		n, err := copyTree(pw, src)
		if err != nil {
			_, _ = pw.Write(badBlock) // WriteTar may have stopped reading: then this fails
		}
		_ = pw.CloseWithError(err)
		done <- result{n, err}
	}()
	werr := fr.WriteTar(ctx, cid, "", pr)
	_ = pr.CloseWithError(errWriterStopped)
	r := <-done
	if r.err != nil && !errors.Is(r.err, errWriterStopped) {
		return r.skipped, r.err // the source's failure says why
	}
	return r.skipped, werr
}

var errWriterStopped = errors.New("the workspace's writer stopped reading")

// clearWorkspace removes everything in the workspace of workload cid.
func clearWorkspace(ctx context.Context, fr warder.FileRuntime, cid string) error {
	for range 100 { // a listing is bounded: as many rounds as it takes
		entries, err := fr.ListDir(ctx, cid, "", 1000)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
		for _, e := range entries {
			if err := fr.RemoveFile(ctx, cid, e.Path); err != nil {
				return err
			}
		}
	}
	return warder.Errorf(warder.ErrConflict, "the workspace keeps filling while it is cleared: stop what writes to it")
}
