package kubernetes

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/warder/warder"
)

// summary is the part of the kubelet's /stats/summary this runtime reads.
type summary struct {
	Pods []struct {
		PodRef struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
			UID       string `json:"uid"`
		} `json:"podRef"`
		Containers []struct {
			Name   string   `json:"name"`
			CPU    cpuStats `json:"cpu"`
			Memory memStats `json:"memory"`
		} `json:"containers"`
		Network *struct {
			RxBytes uint64 `json:"rxBytes"`
			TxBytes uint64 `json:"txBytes"`
		} `json:"network"`
		ProcessStats *struct {
			ProcessCount uint64 `json:"process_count"`
		} `json:"process_stats"`
	} `json:"pods"`
}

type cpuStats struct {
	UsageNanoCores uint64 `json:"usageNanoCores"`
}

type memStats struct {
	WorkingSetBytes uint64 `json:"workingSetBytes"`
}

// Stats reads one sample from the kubelet's resource summary of the
// agent's node, through the API server's node proxy: no metrics-server is
// needed. CPU is a percentage of one CPU, as on Docker; memory is the
// working set, the figure the kubelet evicts and the OOM killer acts on.
// A workload that does not run is ErrConflict.
func (r *Runtime) Stats(ctx context.Context, id string) (warder.Stats, error) {
	rec, err := r.record(ctx, id)
	if err != nil {
		return warder.Stats{}, err
	}
	p, err := r.getPod(ctx, rec)
	if err != nil {
		return warder.Stats{}, err
	}
	st, err := stateOf(rec, p)
	if err != nil {
		return warder.Stats{}, err
	}
	if !st.Running() || p.Spec.NodeName == "" {
		return warder.Stats{}, warder.Errorf(warder.ErrConflict, "workload %s is not running", id)
	}
	spec, err := specOf(rec)
	if err != nil {
		return warder.Stats{}, err
	}
	out := warder.Stats{MemoryLimitBytes: uint64(max(spec.MemoryBytes, 0)), ReadAt: time.Now().UTC()}
	sum, err := r.summaries.get(ctx, p.Spec.NodeName, func(ctx context.Context) (*summary, error) {
		var sum summary
		err := r.api.do(ctx, http.MethodGet, "/api/v1/nodes/"+url.PathEscape(p.Spec.NodeName)+"/proxy/stats/summary", nil, &sum)
		return &sum, err
	})
	if err != nil {
		return warder.Stats{}, err
	}
	for _, ps := range sum.Pods {
		if ps.PodRef.Namespace != r.cfg.Namespace || ps.PodRef.Name != rec.Metadata.Name || ps.PodRef.UID != p.Metadata.UID {
			continue
		}
		for _, c := range ps.Containers {
			if c.Name == containerName {
				out.CPUPercent = float64(c.CPU.UsageNanoCores) / 1e7
				out.MemoryBytes = c.Memory.WorkingSetBytes
			}
		}
		if ps.Network != nil {
			out.NetworkRxBytes, out.NetworkTxBytes = ps.Network.RxBytes, ps.Network.TxBytes
		}
		if ps.ProcessStats != nil {
			out.Pids = ps.ProcessStats.ProcessCount
		}
	}
	return out, nil
}

// summaryTTL is how long a node's summary serves every agent on it. The
// kubelet refreshes its figures about every 10 s, while Warder's collector
// asks for each running agent every second: without the cache, N agents
// would fetch N summaries of N pods each per second.
const summaryTTL = 2 * time.Second

// summaryCache keeps each node's last summary for summaryTTL, and lets one
// caller fetch it while the others for that node wait.
type summaryCache struct {
	mu    sync.Mutex
	nodes map[string]*nodeSummary
}

type nodeSummary struct {
	fetch sync.Mutex // held while one caller fetches
	at    time.Time
	sum   *summary
}

func (c *summaryCache) get(ctx context.Context, node string, fetch func(context.Context) (*summary, error)) (*summary, error) {
	c.mu.Lock()
	if c.nodes == nil {
		c.nodes = map[string]*nodeSummary{}
	}
	n := c.nodes[node]
	if n == nil {
		n = &nodeSummary{}
		c.nodes[node] = n
	}
	c.mu.Unlock()
	n.fetch.Lock()
	defer n.fetch.Unlock()
	if n.sum != nil && time.Since(n.at) < summaryTTL {
		return n.sum, nil
	}
	sum, err := fetch(ctx)
	if err != nil {
		return nil, err
	}
	n.sum, n.at = sum, time.Now()
	return sum, nil
}
