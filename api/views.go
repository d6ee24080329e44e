package api

import (
	"fmt"
	"time"

	"github.com/warder/warder"
)

// agentJSON is an agent as the API shows it: host_port, status_changed_at,
// last_used_at and health are null when unset.
type agentJSON struct {
	*warder.Agent
	HostPort        *int       `json:"host_port"`
	StatusChangedAt *time.Time `json:"status_changed_at"`
	LastUsedAt      *time.Time `json:"last_used_at"`
	Health          *string    `json:"health"`
}

func agentView(a *warder.Agent) agentJSON {
	v := agentJSON{Agent: a, StatusChangedAt: timeOrNil(a.StatusChangedAt), LastUsedAt: timeOrNil(a.LastUsedAt)}
	if a.HostPort != 0 {
		p := a.HostPort
		v.HostPort = &p
	}
	if a.Health != "" {
		h := a.Health
		v.Health = &h
	}
	return v
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// statsResponse is the seed's shape: {"stats": {...}}.
type statsResponse struct {
	Stats statsJSON `json:"stats"`
}

// statsJSON carries each figure twice: as the seed's human string and as a
// number for programs.
type statsJSON struct {
	CPUUsage      string `json:"cpu_usage"`
	MemoryUsage   string `json:"memory_usage"`
	MemoryLimit   string `json:"memory_limit"`
	MemoryPercent string `json:"memory_percent"`
	NetworkRx     string `json:"network_rx"`
	NetworkTx     string `json:"network_tx"`
	BlockRead     string `json:"block_read"`
	BlockWrite    string `json:"block_write"`
	warder.Stats
}

func statsView(st warder.Stats) statsJSON {
	memPct := 0.0
	if st.MemoryLimitBytes > 0 {
		memPct = float64(st.MemoryBytes) / float64(st.MemoryLimitBytes) * 100
	}
	if st.ReadAt.IsZero() {
		st.ReadAt = time.Now().UTC()
	}
	return statsJSON{
		CPUUsage:      fmt.Sprintf("%.2f%%", st.CPUPercent),
		MemoryUsage:   humanBytes(st.MemoryBytes),
		MemoryLimit:   humanBytes(st.MemoryLimitBytes),
		MemoryPercent: fmt.Sprintf("%.2f%%", memPct),
		NetworkRx:     humanBytes(st.NetworkRxBytes),
		NetworkTx:     humanBytes(st.NetworkTxBytes),
		BlockRead:     humanBytes(st.BlockReadBytes),
		BlockWrite:    humanBytes(st.BlockWriteBytes),
		Stats:         st,
	}
}

// humanBytes writes a size as docker stats does, in binary units with
// the seed's short labels: 1.6MB is 1.6 MiB.
func humanBytes(b uint64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	v := float64(b)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", b)
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}
