package service

import (
	"cmp"
	"sync"

	"github.com/warder/warder"
)

// workloads is what Warder knows of each workload beyond the store: where
// it answers while it runs, its probed health, and an out-of-memory kill
// the runtime reported. One handle per workload, kept by its id: the
// agent's record in the store is the truth of its status, a handle only
// what cannot be read back cheaply.
type workloads struct {
	mu sync.Mutex
	m  map[string]*handle
}

// handle is one workload's.
type handle struct {
	reach reach // zero until it is seen running with an endpoint
	probe probe // Warder's probes of its /health
	// oomKilled: the runtime reported an out-of-memory kill since the
	// workload last started. The engine's own OOMKilled flag loses a
	// race with the exit now and then; its "oom" event does not.
	oomKilled bool
}

// reach is where a running workload answers: endpoint for everything but
// the health probes, which go to probe (the runtime's ProbeEndpoint when
// it has one: see warder.WorkloadState).
type reach struct{ endpoint, probe string }

// with runs fn on id's handle, made if need be, under the lock.
func (w *workloads) with(id string, fn func(h *handle)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]*handle{}
	}
	h := w.m[id]
	if h == nil {
		h = &handle{}
		w.m[id] = h
	}
	fn(h)
}

// get is a copy of id's handle; ok is false when there is none.
func (w *workloads) get(id string) (h handle, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.m[id]; p != nil {
		return *p, true
	}
	return handle{}, false
}

// remember keeps where a running workload answers, if it says; it
// returns what it kept.
func (w *workloads) remember(st *warder.WorkloadState) reach {
	if st.Endpoint == "" {
		return reach{}
	}
	r := reach{endpoint: st.Endpoint, probe: cmp.Or(st.ProbeEndpoint, st.Endpoint)}
	w.with(st.ID, func(h *handle) { h.reach = r })
	return r
}

// endpoint is where id answers, when it is known to run.
func (w *workloads) endpoint(id string) (reach, bool) {
	h, ok := w.get(id)
	return h.reach, ok && h.reach.endpoint != ""
}

// stopped forgets what held only while id ran: its endpoint and health.
// An out-of-memory kill is kept: it explains the exit.
func (w *workloads) stopped(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if h := w.m[id]; h != nil {
		if !h.oomKilled {
			delete(w.m, id)
			return
		}
		h.reach, h.probe = reach{}, probe{}
	}
}

// removed forgets id altogether.
func (w *workloads) removed(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, id)
}

// oomKilled records, or (on a start) clears, an out-of-memory kill.
func (w *workloads) setOOMKilled(id string, killed bool) {
	if !killed {
		w.mu.Lock()
		defer w.mu.Unlock()
		if h := w.m[id]; h != nil {
			h.oomKilled = false
		}
		return
	}
	w.with(id, func(h *handle) { h.oomKilled = true })
}

// wasOOMKilled reports an out-of-memory kill since id last started.
func (w *workloads) wasOOMKilled(id string) bool {
	h, ok := w.get(id)
	return ok && h.oomKilled
}
