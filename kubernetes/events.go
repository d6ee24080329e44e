package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/warder/warder"
)

// maxWatchEventBytes bounds one event of a watch, decoded whole: a Pod is
// a few KiB.
const maxWatchEventBytes = 1 << 20

// Events follows this deployment's Pods with a watch, from a list's
// resource version on, so nothing between the list and the watch is
// missed; ready is called once the watch is open. When the API server
// ends a watch (they time out) it is opened again from the last version
// seen; when that version is too old to resume from (410 Gone) Events
// returns an ErrUnavailable error, and the caller's resync covers the gap.
func (r *Runtime) Events(ctx context.Context, ready func(), fn func(warder.WorkloadEvent)) error {
	sel := r.selector()
	var pods podList
	if err := r.api.do(ctx, http.MethodGet, r.ns()+"/pods"+query("labelSelector", sel), nil, &pods); err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	seen := make(map[string]podSeen, len(pods.Items))
	for i := range pods.Items {
		seen[pods.Items[i].Metadata.Name] = seenOf(&pods.Items[i])
	}
	version := pods.Metadata.ResourceVersion
	first := true
	for {
		q := query("labelSelector", sel, "watch", "true", "resourceVersion", version, "allowWatchBookmarks", "true", "timeoutSeconds", "600")
		resp, err := r.api.send(ctx, r.api.stream, http.MethodGet, r.ns()+"/pods"+q, nil)
		if err != nil {
			return err
		}
		if first {
			first = false
			ready()
		}
		version, err = r.follow(resp.Body, version, seen, fn)
		resp.Body.Close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return err
		}
	}
}

// podSeen is what the last event said of a Pod, to tell what changed.
type podSeen struct {
	running  bool
	restarts int
	exited   bool
	oom      bool // the last exit was an OOM kill
}

func seenOf(p *pod) podSeen {
	var st warder.WorkloadState
	podState(&st, p)
	return podSeen{running: st.Running(), restarts: st.RestartCount, exited: st.Phase == warder.PhaseExited || st.Restarting(), oom: st.OOMKilled}
}

// follow reads one watch until it ends, calling fn for each change, and
// returns the last resource version seen.
func (r *Runtime) follow(body io.Reader, version string, seen map[string]podSeen, fn func(warder.WorkloadEvent)) (string, error) {
	lr := &io.LimitedReader{R: body, N: maxWatchEventBytes}
	dec := json.NewDecoder(lr)
	for {
		lr.N = maxWatchEventBytes
		var ev watchEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				return version, nil // the API server ended the watch
			}
			return version, warder.Errorf(warder.ErrUnavailable, "pod watch: %v", err)
		}
		switch ev.Type {
		case "ERROR":
			return version, warder.Errorf(warder.ErrUnavailable, "pod watch ended by the API server (its history is gone): resync")
		case "BOOKMARK":
			version = ev.Object.Metadata.ResourceVersion
			continue
		}
		p := &ev.Object
		version = p.Metadata.ResourceVersion
		name := p.Metadata.Name
		e := warder.WorkloadEvent{ContainerID: name + "/" + p.Metadata.Annotations[annotWorkload], AgentID: p.Metadata.Labels[warder.LabelAgentID], Time: time.Now()}
		was, now := seen[name], seenOf(p)
		switch {
		case ev.Type == "DELETED":
			delete(seen, name)
			e.Kind = warder.EventRemoved
			fn(e)
			continue
		case ev.Type == "ADDED":
			e.Kind = warder.EventCreated
		case now.running && (!was.running || now.restarts != was.restarts):
			e.Kind = warder.EventStarted
		case now.exited && (!was.exited || now.restarts != was.restarts):
			e.Kind = warder.EventExited
			if now.oom {
				oom := e
				oom.Kind = warder.EventOOMKilled
				fn(oom)
			}
		default:
			e.Kind = warder.EventChanged
		}
		seen[name] = now
		fn(e)
	}
}
