package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/klauspost/compress/zstd"

	"github.com/warder/warder"
)

// ErrCorrupt is a snapshot whose stored bytes do not match its manifest
// (checksum, sizes) or do not decompress: restoring it must fail.
var ErrCorrupt = errors.New("snapshot corrupt")

// Config sets how an Archive writes and reads snapshots.
type Config struct {
	// MaxBytes bounds a snapshot's stored (compressed) size and
	// MaxTarBytes its workspace's tar stream; 0 for no bound. Save stops
	// with an error wrapping warder.ErrTooLarge as soon as either is
	// passed, and removes what it wrote.
	MaxBytes    int64
	MaxTarBytes int64
	// Level is zstd's: 1 fastest (the default), 2 default, 3 better, 4
	// best; see docs/snapshots.md for the measurement behind the default.
	Level int
	// Concurrency is how many goroutines compress (and decompress) one
	// snapshot; 0 means 2, again chosen by measurement.
	Concurrency int
}

// Archive keeps agents' snapshots in a Store: per snapshot, a data object
// (the workspace's tar, zstd-compressed) and a JSON manifest written
// after it. The store (its directory, or its bucket's prefix) is the
// archive's alone: Cleanup removes any data object without a manifest.
// Safe for concurrent use.
type Archive struct {
	st  Store
	cfg Config
}

// NewArchive returns an archive over st.
func NewArchive(st Store, cfg Config) (*Archive, error) {
	if cfg.Level == 0 {
		cfg.Level = 1
	}
	if cfg.Level < 1 || cfg.Level > 4 {
		return nil, warder.Errorf(warder.ErrInvalid, "snapshot: zstd level must be 1 to 4")
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 2
	}
	if cfg.Concurrency < 1 || cfg.MaxBytes < 0 || cfg.MaxTarBytes < 0 {
		return nil, warder.Errorf(warder.ErrInvalid, "snapshot: bad configuration")
	}
	return &Archive{st: st, cfg: cfg}, nil
}

// Store is the store the archive keeps snapshots in.
func (a *Archive) Store() Store { return a.st }

// Save stores the tar stream tr (a workspace, as FileRuntime.ReadTar
// gives it) as a new snapshot of meta.AgentID and returns its manifest.
// The data object is written first and the manifest last: until Save
// returns nil, List does not show the snapshot, whatever happens to the
// process meanwhile. Save has stopped reading tr when it returns.
func (a *Archive) Save(ctx context.Context, meta Meta, tr io.Reader) (*Manifest, error) {
	id, err := uuid.NewV7() // time-ordered: keys sort by creation
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	m := &Manifest{ID: id.String(), AgentID: meta.AgentID, Owner: meta.Owner, Name: meta.Name,
		CreatedAt: time.Now().UTC(), Format: Format, Settings: meta.Settings}
	if err := checkIDs(m.AgentID, m.ID); err != nil {
		return nil, err
	}
	if _, err := m.encode(); err != nil { // settings too large: fail before any work
		return nil, err
	}
	if err := a.saveData(ctx, m, meta, tr); err != nil {
		return nil, err
	}
	b, err := m.encode()
	if err == nil {
		_, err = a.st.Put(ctx, manifestKey(m.AgentID, m.ID), bytes.NewReader(b))
	}
	if err != nil {
		a.removeData(ctx, m)
		return nil, fmt.Errorf("snapshot: write manifest: %w", err)
	}
	return m, nil
}

// saveData compresses tr into the data object, filling m's sizes and
// checksum. The compressor runs in its own goroutine, writing into a pipe
// the store reads from.
func (a *Archive) saveData(ctx context.Context, m *Manifest, meta Meta, tr io.Reader) error {
	pr, pw := io.Pipe()
	sum := sha256.New()
	out := &countWriter{w: pw, h: sum, max: a.cfg.MaxBytes, what: "stored"}
	if max := meta.MaxBytes; max > 0 && (out.max == 0 || max < out.max) {
		out.max = max
	}
	in := &countReader{r: tr, max: a.cfg.MaxTarBytes}
	done := make(chan error, 1)
	go func() {
		err := a.compress(out, in)
		_ = pw.CloseWithError(err) // nil: the store reads io.EOF
		done <- err
	}()
	n, putErr := a.st.Put(ctx, dataKey(m.AgentID, m.ID), pr)
	_ = pr.CloseWithError(errStoreStopped) // unblocks the compressor
	compErr := <-done
	if errors.Is(compErr, errStoreStopped) && putErr != nil {
		compErr = nil // the store's error says why
	}
	switch {
	case compErr != nil:
		a.removeData(ctx, m) // Put may have succeeded on a stream cut short
		return fmt.Errorf("snapshot: %w", compErr)
	case putErr != nil:
		return fmt.Errorf("snapshot: store: %w", putErr)
	case n != out.n:
		a.removeData(ctx, m)
		return fmt.Errorf("snapshot: store took %d of %d bytes", n, out.n)
	}
	m.TarBytes, m.StoredBytes, m.SHA256 = in.n, out.n, hex.EncodeToString(sum.Sum(nil))
	return nil
}

func (a *Archive) compress(w io.Writer, r io.Reader) error {
	enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.EncoderLevel(a.cfg.Level)),
		zstd.WithEncoderConcurrency(a.cfg.Concurrency))
	if err != nil {
		return err
	}
	if _, err := io.Copy(enc, r); err != nil {
		_ = enc.Close()
		return err
	}
	return enc.Close()
}

// removeData deletes a data object that has no manifest, on a context
// that outlives the caller's.
func (a *Archive) removeData(ctx context.Context, m *Manifest) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_ = a.st.Delete(ctx, dataKey(m.AgentID, m.ID))
}

// errStoreStopped ends the compressor when the store stops reading.
var errStoreStopped = errors.New("the store stopped reading")

// countWriter counts and hashes what goes through it, failing once more
// than max (if max > 0) would have gone.
type countWriter struct {
	w    io.Writer
	h    hash.Hash
	n    int64
	max  int64
	what string
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.max > 0 && c.n+int64(len(p)) > c.max {
		return 0, warder.Errorf(warder.ErrTooLarge, "snapshot over its bound of %d %s bytes", c.max, c.what)
	}
	c.h.Write(p)
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// countReader counts what is read through it, failing once more than max
// (if max > 0) has been read.
type countReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.max > 0 && c.n > c.max {
		return n, warder.Errorf(warder.ErrTooLarge, "snapshot over its bound of %d workspace bytes", c.max)
	}
	return n, err
}
