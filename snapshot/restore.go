package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/zstd"
)

// maxWindow bounds the memory a decoder may take for one snapshot's
// window, whatever the stored bytes claim (the writer's window is 8 MiB
// at most, at any level Config allows).
const maxWindow = 64 << 20

// Reader is a snapshot's tar stream being read back. Its bytes are not
// trusted until the verification at its end: Read returns io.EOF only
// after the stored bytes' SHA-256 and both sizes matched the manifest,
// and an error wrapping ErrCorrupt instead when they did not.
type Reader struct {
	m      *Manifest
	body   io.Closer
	in     *hashReader
	dec    *zstd.Decoder
	tarN   int64
	err    error // sticky: the verdict once reached
	closed bool
}

// Open starts reading agentID's snapshot id. The caller must Close it.
// A snapshot whose data object's size already differs from the manifest
// fails here with ErrCorrupt.
func (a *Archive) Open(ctx context.Context, agentID, id string) (*Reader, error) {
	m, body, err := a.stored(ctx, agentID, id)
	if err != nil {
		return nil, err
	}
	r, err := a.reader(m, body, body)
	if err != nil {
		_ = body.Close()
	}
	return r, err
}

// stored opens snapshot id's manifest and data object, the object's size
// already checked against the manifest (ErrCorrupt when it differs). The
// caller closes body.
func (a *Archive) stored(ctx context.Context, agentID, id string) (*Manifest, io.ReadCloser, error) {
	if err := checkIDs(agentID, id); err != nil {
		return nil, nil, err
	}
	m, err := readManifest(ctx, a.st, agentID, id)
	if err != nil {
		return nil, nil, err
	}
	body, info, err := a.st.Get(ctx, dataKey(agentID, id))
	if err != nil {
		return nil, nil, err
	}
	if info.Size != m.StoredBytes {
		_ = body.Close()
		return nil, nil, fmt.Errorf("%w: %s/%s: stored %d bytes, manifest says %d", ErrCorrupt, agentID, id, info.Size, m.StoredBytes)
	}
	return m, body, nil
}

// reader is the Reader of m's tar over its stored bytes in, closing
// body when closed.
func (a *Archive) reader(m *Manifest, in io.Reader, body io.Closer) (*Reader, error) {
	hr := &hashReader{r: in, h: sha256.New()}
	dec, err := zstd.NewReader(hr, zstd.WithDecoderConcurrency(a.cfg.Concurrency), zstd.WithDecoderMaxWindow(maxWindow))
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &Reader{m: m, body: body, in: hr, dec: dec}, nil
}

// Fetch copies agentID's snapshot id as stored (compressed) into w and
// checks it against its manifest: its size and SHA-256. It returns the
// manifest only when the copy is whole and matches; a mismatch is an
// error wrapping ErrCorrupt. OpenFetched then reads the tar from the
// copy: a restore that must know a snapshot whole before it touches a
// workspace keeps the stored bytes (half the tar's size, for a typical
// workspace) rather than the tar.
func (a *Archive) Fetch(ctx context.Context, agentID, id string, w io.Writer) (*Manifest, error) {
	m, body, err := a.stored(ctx, agentID, id)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(body, m.StoredBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("snapshot: read %s/%s: %w", agentID, id, err)
	case n != m.StoredBytes:
		return nil, fmt.Errorf("%w: %s/%s: %d stored bytes, manifest says %d", ErrCorrupt, agentID, id, n, m.StoredBytes)
	case hex.EncodeToString(h.Sum(nil)) != m.SHA256:
		return nil, fmt.Errorf("%w: %s/%s: SHA-256 mismatch", ErrCorrupt, agentID, id)
	}
	return m, nil
}

// OpenFetched reads the tar of snapshot m from stored, the bytes Fetch
// copied, checking them again as Open does (the tar's size at the end).
// The caller must Close the Reader; stored is not closed.
func (a *Archive) OpenFetched(m *Manifest, stored io.Reader) (*Reader, error) {
	return a.reader(m, stored, io.NopCloser(nil))
}

// Manifest is the snapshot's manifest.
func (r *Reader) Manifest() *Manifest { return r.m }

// Read implements io.Reader over the snapshot's tar stream.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.dec.Read(p)
	r.tarN += int64(n)
	if r.tarN > r.m.TarBytes {
		r.err = r.corrupt("more than the manifest's %d tar bytes", r.m.TarBytes)
		return 0, r.err
	}
	switch {
	case err == io.EOF:
		r.err = r.verify()
		return n, r.err
	case err != nil:
		r.err = r.corrupt("%v", err)
		return 0, r.err
	}
	return n, nil
}

// Verify reads what is left of the stream (a tar reader stops at the
// archive's end marker, before the stream's end) and returns the verdict:
// nil only when the whole snapshot matched its manifest.
func (r *Reader) Verify() error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// verify compares what was read with the manifest, at the decoder's end.
func (r *Reader) verify() error {
	// The decoder may stop at the frame's end: anything after it counts.
	if _, err := io.Copy(io.Discard, r.in); err != nil {
		return fmt.Errorf("snapshot: read %s/%s: %w", r.m.AgentID, r.m.ID, err)
	}
	switch {
	case r.in.n != r.m.StoredBytes:
		return r.corrupt("%d stored bytes, manifest says %d", r.in.n, r.m.StoredBytes)
	case hex.EncodeToString(r.in.h.Sum(nil)) != r.m.SHA256:
		return r.corrupt("SHA-256 mismatch")
	case r.tarN != r.m.TarBytes:
		return r.corrupt("%d tar bytes, manifest says %d", r.tarN, r.m.TarBytes)
	}
	return io.EOF
}

func (r *Reader) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s/%s: %s", ErrCorrupt, r.m.AgentID, r.m.ID, fmt.Sprintf(format, args...))
}

// Close releases the decoder and the stored object. Safe to call twice.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.dec.Close()
	return r.body.Close()
}

// Restore reads agentID's snapshot id into extract and then verifies it.
// It returns nil only when extract returned nil and the snapshot was
// whole and matched its manifest. This is the restore contract: extract
// writes into a staging place (a fresh directory, a new volume), never
// over the live workspace, and the caller swaps the staging place in
// only when Restore returned nil; on an error it discards the staging
// place. The tar bytes extract sees before the verdict are unverified.
func (a *Archive) Restore(ctx context.Context, agentID, id string, extract func(tar io.Reader) error) (*Manifest, error) {
	r, err := a.Open(ctx, agentID, id)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := extract(r); err != nil {
		if r.err != nil && !errors.Is(r.err, io.EOF) {
			return nil, r.err // extract failed because the snapshot did
		}
		return nil, err
	}
	if err := r.Verify(); err != nil {
		return nil, err
	}
	return r.m, nil
}

// hashReader counts and hashes what is read through it.
type hashReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}
