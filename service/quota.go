package service

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/warder/warder"
)

// effective fills an override's unset limits from the operator's defaults.
func (s *Agents) effective(override warder.Limits) warder.Limits {
	d := s.cfg.Quota
	pick := func(o, def *int) *int {
		if o != nil {
			return o
		}
		return def
	}
	pick64 := func(o, def *int64) *int64 {
		if o != nil {
			return o
		}
		return def
	}
	pickF := func(o, def *float64) *float64 {
		if o != nil {
			return o
		}
		return def
	}
	return warder.Limits{
		Agents:           pick(override.Agents, d.Agents),
		RunningAgents:    pick(override.RunningAgents, d.RunningAgents),
		MemoryBytes:      pick64(override.MemoryBytes, d.MemoryBytes),
		CPUs:             pickF(override.CPUs, d.CPUs),
		AgentMemoryBytes: pick64(override.AgentMemoryBytes, d.AgentMemoryBytes),
		AgentCPUs:        pickF(override.AgentCPUs, d.AgentCPUs),

		LLMTokensPerDay:        pick64(override.LLMTokensPerDay, d.LLMTokensPerDay),
		LLMTokensPerMonth:      pick64(override.LLMTokensPerMonth, d.LLMTokensPerMonth),
		AgentLLMTokensPerDay:   pick64(override.AgentLLMTokensPerDay, d.AgentLLMTokensPerDay),
		AgentLLMTokensPerMonth: pick64(override.AgentLLMTokensPerMonth, d.AgentLLMTokensPerMonth),
	}
}

// usage is the user's effective limits and what they use now. An agent
// counts as running from the moment its start is recorded. It counts the
// user's agents and reads only those holding resources, never the whole
// list.
func (s *Agents) usage(ctx context.Context, userID string) (warder.Usage, error) {
	override, err := s.store.UserLimits(ctx, userID)
	if err != nil {
		return warder.Usage{}, err
	}
	u := warder.Usage{UserID: userID, Limits: s.effective(override)}
	if u.Used, err = s.runningUse(ctx, userID); err != nil {
		return warder.Usage{}, err
	}
	if u.Used.Agents, err = s.store.CountAgents(ctx, warder.AgentFilter{UserID: userID}); err != nil {
		return warder.Usage{}, err
	}
	return u, nil
}

// runningUse is what the user's agents that hold resources use: their
// number, memory and CPUs (Agents is left 0).
func (s *Agents) runningUse(ctx context.Context, userID string) (warder.LimitsInUse, error) {
	var used warder.LimitsInUse
	running, err := s.store.ListAgents(ctx, warder.AgentFilter{UserID: userID, Statuses: resourceStatuses})
	if err != nil {
		return used, err
	}
	for _, a := range running {
		mem, _ := warder.ParseMemory(a.ContainerConfig.MemoryLimit)
		used.RunningAgents++
		used.MemoryBytes += mem
		used.CPUs += a.ContainerConfig.CPULimit
	}
	return used, nil
}

// resourceStatuses are the statuses in which an agent counts against the
// running quotas.
var resourceStatuses = []warder.Status{warder.StatusRunning, warder.StatusStarting, warder.StatusStopping, warder.StatusPaused}

// holdsResources reports whether an agent in this status counts against
// the running quotas.
func holdsResources(s warder.Status) bool { return slices.Contains(resourceStatuses, s) }

// over is the quota error: it names the limit and the current use.
func over(limit string, format string, args ...any) error {
	return warder.Errorf(warder.ErrConflict, "quota exceeded: %s (%s)", fmt.Sprintf(format, args...), limit)
}

// memorySize is b as a memory_limit is written (4g, 512m, 1.5g), and in
// bytes when that is not exact: "4g (4294967296 bytes)" reads as what the
// user typed and still says the number.
func memorySize(b int64) string {
	units := []struct {
		suffix string
		size   int64
	}{{"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}}
	for _, u := range units {
		if b >= u.size {
			if b%u.size == 0 {
				return fmt.Sprintf("%d%s", b/u.size, u.suffix)
			}
			return fmt.Sprintf("%s%s (%d bytes)", strconv.FormatFloat(float64(b)/float64(u.size), 'f', 2, 64), u.suffix, b)
		}
	}
	return fmt.Sprintf("%d bytes", b)
}

// checkSize refuses an agent larger than the owner's single-agent limits.
func checkSize(l warder.Limits, cc warder.ContainerConfig) error {
	mem, _ := warder.ParseMemory(cc.MemoryLimit)
	if l.AgentMemoryBytes != nil && *l.AgentMemoryBytes > 0 && mem > *l.AgentMemoryBytes {
		return over("agent_memory_bytes", "memory_limit %s is more than the %s one agent may have", cc.MemoryLimit, memorySize(*l.AgentMemoryBytes))
	}
	if l.AgentCPUs != nil && *l.AgentCPUs > 0 && cc.CPULimit > *l.AgentCPUs {
		return over("agent_cpus", "cpu_limit %g is more than the %g CPUs one agent may have", cc.CPULimit, *l.AgentCPUs)
	}
	return nil
}

// checkCreate runs under the owner's quota lock. It needs only the
// number of the owner's agents: one COUNT.
func (s *Agents) checkCreate(ctx context.Context, owner string, cc warder.ContainerConfig) error {
	override, err := s.store.UserLimits(ctx, owner)
	if err != nil {
		return err
	}
	limits := s.effective(override)
	if l := limits.Agents; l != nil && *l > 0 {
		n, err := s.store.CountAgents(ctx, warder.AgentFilter{UserID: owner})
		if err != nil {
			return err
		}
		if n >= *l {
			return over("agents", "%d agents of %d allowed", n, *l)
		}
	}
	return checkSize(limits, cc)
}

// checkStart runs under the owner's quota lock, for an agent not yet
// counted as running. It reads only what the owner's limits need: the
// running agents' sizes for a memory or CPU quota, their number alone (a
// COUNT from an index) for a running-agents quota alone, and nothing
// without any of them. An owner without running quotas and with 1,000
// agents running had all of them read on every start: a quarter of
// Warder's CPU while it started them.
func (s *Agents) checkStart(ctx context.Context, a *warder.Agent) error {
	override, err := s.store.UserLimits(ctx, a.UserID)
	if err != nil {
		return err
	}
	l := s.effective(override)
	if err := checkSize(l, a.ContainerConfig); err != nil {
		return err
	}
	runningQuota := l.RunningAgents != nil && *l.RunningAgents > 0
	memoryQuota := l.MemoryBytes != nil && *l.MemoryBytes > 0
	cpuQuota := l.CPUs != nil && *l.CPUs > 0
	var used warder.LimitsInUse
	switch {
	case memoryQuota || cpuQuota:
		used, err = s.runningUse(ctx, a.UserID)
	case runningQuota:
		used.RunningAgents, err = s.store.CountAgents(ctx, warder.AgentFilter{UserID: a.UserID, Statuses: resourceStatuses})
	default:
		return nil
	}
	if err != nil {
		return err
	}
	mem, _ := warder.ParseMemory(a.ContainerConfig.MemoryLimit)
	switch {
	case runningQuota && used.RunningAgents+1 > *l.RunningAgents:
		return over("running_agents", "%d agents running of %d allowed", used.RunningAgents, *l.RunningAgents)
	case memoryQuota && used.MemoryBytes+mem > *l.MemoryBytes:
		return over("memory_bytes", "running agents use %s of memory, this one needs %s more, %s allowed",
			memorySize(used.MemoryBytes), memorySize(mem), memorySize(*l.MemoryBytes))
	case cpuQuota && used.CPUs+a.ContainerConfig.CPULimit > *l.CPUs+1e-9:
		return over("cpus", "running agents use %g CPUs, this one needs %g more, %g allowed", used.CPUs, a.ContainerConfig.CPULimit, *l.CPUs)
	}
	return nil
}

// quotaLock serializes one user's quota checks with the changes they
// guard: within this process, then (with Config.Locks) across the
// processes sharing the store, so N replicas cannot together admit more
// than the quota. Taking the process's lock first keeps a burst of one
// user's requests from holding more than one database connection here.
func (s *Agents) quotaLock(ctx context.Context, userID string) (func(), error) {
	unlock := s.locks.Lock("quota:" + userID)
	if s.cfg.Locks == nil {
		return unlock, nil
	}
	shared, err := s.cfg.Locks.Lock(ctx, "quota:"+userID)
	if err != nil {
		unlock()
		return nil, err
	}
	return func() { shared(); unlock() }, nil
}
