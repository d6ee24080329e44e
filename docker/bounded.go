package docker

import (
	"fmt"
	"io"
)

// Bounds on single messages the engine streams, decoded whole. A stats
// sample is a few KiB (more with many CPUs or networks); a progress
// message is a line of build output or a pull's status.
const (
	maxStatsSampleBytes  = 1 << 20
	maxProgressBytes     = 1 << 20
	maxProgressKeptBytes = 64 << 10 // the end of a build's output, for its error
)

// budgetReader reads r while its budget lasts; a read past it fails with
// an error naming what was too large. refill starts a new budget, e.g.
// for the next message of a stream. A json.Decoder reads ahead, so a
// budget covers a message and what was buffered after it.
type budgetReader struct {
	r    io.Reader
	per  int64
	left int64
	what string
}

func newBudgetReader(r io.Reader, per int64, what string) *budgetReader {
	return &budgetReader{r: r, per: per, left: per, what: what}
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("%s is over %d KiB", b.what, b.per>>10)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *budgetReader) refill() { b.left = b.per }
