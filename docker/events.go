package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// eventActions are the container actions Events asks the engine for: the
// ones that change or explain a container's state. The rest (exec_* from
// every health probe, attach, resize, ...) would be noise at every probe
// interval for every agent. "health_status" matches "health_status: ..."
// (the engine compares these names by prefix).
var eventActions = []events.Action{
	events.ActionCreate, events.ActionStart, events.ActionRestart,
	events.ActionKill, events.ActionDie, events.ActionOOM, events.ActionStop,
	events.ActionDestroy, events.ActionPause, events.ActionUnPause,
	events.ActionHealthStatus,
}

// Podman's words where they differ from Docker's: its event filter wants
// them, and its compatible API sends them as they are. A container's end
// is "died" and its removal "remove" (Podman never sends "destroy").
const (
	podmanActionDied   events.Action = "died"
	podmanActionRemove events.Action = "remove"
)

// podmanEventActions are eventActions in Podman's words.
var podmanEventActions = []events.Action{
	events.ActionCreate, events.ActionStart, events.ActionRestart,
	events.ActionKill, podmanActionDied, events.ActionOOM, events.ActionStop,
	podmanActionRemove, events.ActionPause, events.ActionUnPause,
	events.ActionHealthStatus,
}

// Events follows the engine's event stream for LabelManaged containers
// until ctx ends (returning ctx.Err()) or the stream breaks (an error
// wrapping ErrUnavailable). fn runs on the calling goroutine, in the
// engine's order; nothing is left running once Events returns. fn must be
// quick: the engine drops events for a subscriber that falls behind.
//
// What ready promises: it is called once, before fn is first called, after
// the engine has answered a ping and then accepted the subscription (sent
// its response headers). The engine sends those headers before it
// registers the subscriber, so the subscription also asks for every event
// since a moment taken just before the ping, which the engine replays from
// its buffer: no event logged after that moment is lost. A resync started
// after ready therefore misses nothing: a change is either visible to it
// or still to come through fn, possibly both, so fn must be idempotent
// (best: "inspect this container again"). The engine compares that moment,
// taken by this host's clock, with its own; for a remote engine the
// guarantee holds as far as the two clocks agree. Should the subscription
// fail right after a successful ping, Events may call ready and then
// return an ErrUnavailable error at once, as for any broken stream.
func (r *Runtime) Events(ctx context.Context, ready func(), fn func(warder.WorkloadEvent)) error {
	since := time.Now()
	if err := r.Ping(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	actions := eventActions
	if podman, err := r.isPodman(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	} else if podman {
		actions = podmanEventActions
	}
	filters := client.Filters{}.
		Add("type", string(events.ContainerEventType)).
		Add("label", r.scopeLabel())
	for _, a := range actions {
		filters = filters.Add("event", string(a))
	}
	sctx, cancel := context.WithCancel(ctx)
	res := r.cli.Events(sctx, client.EventsListOptions{
		Since:   fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Filters: filters,
	})
	defer func() {
		cancel()
		for range res.Err { // the client's reader closes Err once it has stopped
		}
	}()
	// The client returns once the engine answered, or failed; a failure
	// is usually already waiting here.
	select {
	case err := <-res.Err:
		return streamErr(ctx, err)
	default:
	}
	if ready != nil {
		ready()
	}
	for {
		select {
		case m := <-res.Messages:
			fn(eventFrom(m))
		case err := <-res.Err:
			return streamErr(ctx, err)
		}
	}
}

// streamErr explains why the event stream ended: ctx's end is the
// caller's doing; the engine refusing the request is a bug here; anything
// else (EOF included: the engine closed the stream, as it does when it
// shuts down) means the engine is gone for now.
func streamErr(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err == nil:
		err = errors.New("stream closed")
	case cerrdefs.IsInvalidArgument(err):
		return fmt.Errorf("subscribe to events: %w", err)
	}
	return warder.Errorf(warder.ErrUnavailable, "Docker is unavailable: event stream: %v", err)
}

// eventFrom is Warder's view of one engine event.
func eventFrom(m events.Message) warder.WorkloadEvent {
	ev := warder.WorkloadEvent{
		ContainerID: m.Actor.ID,
		Kind:        eventKind(m.Action),
	}
	// The engine sends a container's labels and name as attributes.
	ev.AgentID, _ = agentOf(m.Actor.Attributes, m.Actor.Attributes["name"])
	switch {
	case m.TimeNano != 0:
		ev.Time = time.Unix(0, m.TimeNano)
	case m.Time != 0:
		ev.Time = time.Unix(m.Time, 0)
	}
	return ev
}

// eventKind maps the engine's action words, Docker's and Podman's, to
// Warder's kinds. Health
// events carry the status in the action ("health_status: healthy"); the
// kind says only that health changed, and the caller inspects for it.
func eventKind(a events.Action) warder.EventKind {
	action, _, _ := strings.Cut(string(a), ":")
	switch events.Action(action) {
	case events.ActionCreate:
		return warder.EventCreated
	case events.ActionStart, events.ActionRestart:
		return warder.EventStarted
	case events.ActionDie, podmanActionDied:
		return warder.EventExited
	case events.ActionOOM:
		return warder.EventOOMKilled
	case events.ActionDestroy, podmanActionRemove:
		return warder.EventRemoved
	case events.ActionPause:
		return warder.EventPaused
	case events.ActionUnPause:
		return warder.EventResumed
	case events.ActionHealthStatus:
		return warder.EventHealth
	}
	return warder.EventChanged
}
