package docker

import (
	"context"
	"encoding/json"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// Stats takes one sample of the container's resource use. The engine
// measures twice about a second apart (stream=false with the previous
// sample), so CPU % is over that second; the call takes that long.
func (r *Runtime) Stats(ctx context.Context, id string) (warder.Stats, error) {
	st, err := r.Inspect(ctx, id)
	if err != nil {
		return warder.Stats{}, err
	}
	if !st.Running() {
		return warder.Stats{}, errNotRunning()
	}
	res, err := r.cli.ContainerStats(ctx, id, client.ContainerStatsOptions{IncludePreviousSample: true})
	if err != nil {
		return warder.Stats{}, mapErr(err, "stats of container "+id)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(newBudgetReader(res.Body, maxStatsSampleBytes, "a stats sample")).Decode(&s); err != nil {
		return warder.Stats{}, mapErr(err, "read stats of container "+id)
	}
	if s.Read.IsZero() {
		return warder.Stats{}, errNotRunning() // it stopped after Inspect
	}
	return statsFrom(&s), nil
}

func errNotRunning() error {
	return warder.Errorf(warder.ErrConflict, "agent container is not running")
}

// statsFrom computes Warder's figures from the engine's sample the way
// `docker stats` does, for cgroup v1 and v2 alike. It is pure so it can be
// tested on recorded samples.
func statsFrom(s *container.StatsResponse) warder.Stats {
	out := warder.Stats{
		CPUPercent:       cpuPercent(s),
		MemoryBytes:      memoryUsage(s.MemoryStats),
		MemoryLimitBytes: s.MemoryStats.Limit,
		Pids:             s.PidsStats.Current,
		ReadAt:           s.Read,
	}
	for _, n := range s.Networks {
		out.NetworkRxBytes += n.RxBytes
		out.NetworkTxBytes += n.TxBytes
	}
	// As docker stats does: by the op's first letter, which takes v1's
	// "Read"/"Write" and v2's "read"/"write" and skips "Sync", "Total"...
	for _, e := range s.BlkioStats.IoServiceBytesRecursive {
		if e.Op == "" {
			continue
		}
		switch e.Op[0] {
		case 'r', 'R':
			out.BlockReadBytes += e.Value
		case 'w', 'W':
			out.BlockWriteBytes += e.Value
		}
	}
	return out
}

// cpuPercent is the container's share of the host's CPU time between the
// two samples, scaled so that one fully used CPU is 100 %.
func cpuPercent(s *container.StatsResponse) float64 {
	cpuDelta := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	online := float64(s.CPUStats.OnlineCPUs)
	if online == 0 { // engines before API 1.27, and some cgroup v1 hosts
		online = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if cpuDelta <= 0 || sysDelta <= 0 {
		return 0
	}
	return cpuDelta / sysDelta * online * 100
}

// memoryUsage is usage minus the inactive page cache, which the kernel
// reclaims under pressure: the figure `docker stats` shows.
func memoryUsage(m container.MemoryStats) uint64 {
	if v, ok := m.Stats["total_inactive_file"]; ok && v < m.Usage { // cgroup v1
		return m.Usage - v
	}
	if v := m.Stats["inactive_file"]; v < m.Usage { // cgroup v2
		return m.Usage - v
	}
	return m.Usage
}
