package docker

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/warder/warder"
)

func TestStatsFrom(t *testing.T) {
	read := time.Date(2026, 11, 27, 4, 45, 46, 799135817, time.UTC)
	tests := []struct {
		file string
		want warder.Stats
	}{
		{"stats_cgroup1.json", warder.Stats{
			CPUPercent: 44.06997584541063, MemoryBytes: 11563008 - 5890048, MemoryLimitBytes: 64 << 20,
			NetworkRxBytes: 358849, NetworkTxBytes: 346555, Pids: 8, ReadAt: read,
		}},
		{"stats_cgroup1_old_engine.json", warder.Stats{
			CPUPercent: 44.06997584541063, MemoryBytes: 11563008 - 5890048, MemoryLimitBytes: 64 << 20,
			NetworkRxBytes: 358849 + 1000, NetworkTxBytes: 346555 + 2000,
			BlockReadBytes: 1048576 + 512, BlockWriteBytes: 4096, Pids: 8, ReadAt: read,
		}},
		{"stats_cgroup2.json", warder.Stats{
			CPUPercent: 50, MemoryBytes: 20971520 - 7340032, MemoryLimitBytes: 512 << 20,
			NetworkRxBytes: 5000, NetworkTxBytes: 7000, BlockReadBytes: 20480, BlockWriteBytes: 8192,
			Pids: 5, ReadAt: read,
		}},
		{"stats_stopped.json", warder.Stats{}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := statsFrom(loadStats(t, tt.file))
			if math.Abs(got.CPUPercent-tt.want.CPUPercent) > 1e-9 {
				t.Errorf("CPUPercent = %v, want %v", got.CPUPercent, tt.want.CPUPercent)
			}
			got.CPUPercent = tt.want.CPUPercent
			if !got.ReadAt.Equal(tt.want.ReadAt) {
				t.Errorf("ReadAt = %v, want %v", got.ReadAt, tt.want.ReadAt)
			}
			got.ReadAt = tt.want.ReadAt
			if got != tt.want {
				t.Errorf("statsFrom =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func loadStats(t *testing.T, name string) *container.StatsResponse {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var s container.StatsResponse
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestCPUPercentEdges(t *testing.T) {
	sample := func(cpu, preCPU, sys, preSys uint64, online uint32, percpu int) *container.StatsResponse {
		s := &container.StatsResponse{}
		s.CPUStats.CPUUsage.TotalUsage, s.PreCPUStats.CPUUsage.TotalUsage = cpu, preCPU
		s.CPUStats.SystemUsage, s.PreCPUStats.SystemUsage = sys, preSys
		s.CPUStats.OnlineCPUs = online
		s.CPUStats.CPUUsage.PercpuUsage = make([]uint64, percpu)
		return s
	}
	tests := []struct {
		name string
		s    *container.StatsResponse
		want float64
	}{
		{"one CPU fully used of two", sample(2e9, 1e9, 4e9, 2e9, 2, 0), 100},
		{"percpu count when online_cpus is missing", sample(2e9, 1e9, 4e9, 2e9, 0, 4), 200},
		{"no previous sample yet", sample(2e9, 0, 4e9, 0, 2, 0), 100},
		{"idle", sample(1e9, 1e9, 4e9, 2e9, 2, 0), 0},
		{"system clock did not move", sample(2e9, 1e9, 2e9, 2e9, 2, 0), 0},
		{"counter went backwards", sample(1e9, 2e9, 4e9, 2e9, 2, 0), 0},
	}
	for _, tt := range tests {
		if got := cpuPercent(tt.s); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: cpuPercent = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMemoryUsage(t *testing.T) {
	tests := []struct {
		name string
		m    container.MemoryStats
		want uint64
	}{
		{"cgroup v1 takes total_inactive_file", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"total_inactive_file": 30, "inactive_file": 10}}, 70},
		{"cgroup v2 takes inactive_file", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"inactive_file": 10}}, 90},
		{"cache above usage is ignored", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"total_inactive_file": 300}}, 100},
		{"no stats", container.MemoryStats{Usage: 100}, 100},
	}
	for _, tt := range tests {
		if got := memoryUsage(tt.m); got != tt.want {
			t.Errorf("%s: memoryUsage = %d, want %d", tt.name, got, tt.want)
		}
	}
}
