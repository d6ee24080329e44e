package warder

import (
	"context"
	"time"

	"github.com/warder/warder/wire"
)

// An agent's status changes and its output's lines are the API's shapes,
// defined in package wire (docs/architecture.md, "Wire types").
type (
	AgentEvent   = wire.AgentEvent
	StatusChange = wire.StatusChange
	LogLine      = wire.LogLine
)

// The streams of a workload's output: see wire.LogLine.
const (
	StreamStdout = wire.StreamStdout
	StreamStderr = wire.StreamStderr
)

// EventBus carries status changes from the service that records them to
// whoever follows them. In memory (one process, SQLite) the changes are
// those Publish is given; on a shared PostgreSQL store every change any
// replica records reaches every replica's subscribers, read back from
// the database, and Publish has nothing left to do.
type EventBus interface {
	// Publish hands c to every subscriber without waiting: a subscriber
	// that has fallen behind misses it.
	Publish(c StatusChange)
	// Since returns the changes numbered after id that the bus still
	// keeps, oldest first, so a follower that lost its stream can catch
	// up on what happened meanwhile. How far back it reaches is the bus's
	// window; older changes are gone.
	Since(ctx context.Context, id int64) ([]StatusChange, error)
	// Subscribe returns a channel of every change published from now on
	// and a cancel function that ends the subscription and closes the
	// channel. Cancel is safe to call twice.
	Subscribe() (changes <-chan StatusChange, cancel func())
}

// Bounds on the output of a container that Warder reads for a caller, so
// an agent that writes huge lines cannot make Warder hold them.
const (
	// MaxLogLineBytes caps one line: a longer one is cut there, ends with
	// LogLineCut, and the rest of it is skipped. 64 KiB is more than any
	// line meant for a person to read.
	MaxLogLineBytes = 64 << 10
	// MaxLogsBytes caps logs answered at once rather than streamed (the
	// lines, each with its newline): some 40,000 lines of 100 bytes, while
	// 10,000 lines of up to MaxLogLineBytes would be 640 MiB.
	MaxLogsBytes = 4 << 20
)

// LogLineCut ends a line that was cut at MaxLogLineBytes.
const LogLineCut = " …[line cut at 64 KiB]"

// StatsReader answers stats reads from samples already taken, so a read
// needs no call to the engine. Container ids are the runtime's. Every
// method is safe for concurrent use.
type StatsReader interface {
	// Latest returns the newest sample of a running container. A
	// container not yet followed is followed from now on, and Latest waits
	// for its first sample (bounded, and by ctx). A container that is not
	// running is ErrConflict; one that does not exist is ErrNotFound.
	Latest(ctx context.Context, containerID string) (Stats, error)
	// History returns the samples taken since since, oldest first. A
	// since further back than the samples kept is ErrInvalid.
	History(ctx context.Context, containerID string, since time.Time) ([]Stats, error)
	// Watch calls fn with the newest sample, if there is one, then with
	// each new one, until ctx ends (returning ctx.Err()), fn fails
	// (returning its error) or the container stops (ErrConflict). fn runs
	// on the calling goroutine.
	Watch(ctx context.Context, containerID string, fn func(Stats) error) error
}
