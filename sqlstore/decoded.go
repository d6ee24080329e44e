package sqlstore

import (
	"encoding/json"
	"sync"

	"github.com/warder/warder"
)

// decodedCache keeps what agents' two JSON columns decode to, keyed by
// their text: decoding them was about a third of listing 1,000 agents, and
// a listing reads the same texts again and again. Every caller gets its
// own copy, so what one changes no other sees.
type decodedCache struct {
	mu         sync.Mutex
	configs    map[string]map[string]any
	containers map[string]warder.ContainerConfig
}

// maxDecoded bounds each map; a full one starts over.
const maxDecoded = 4096

func (c *decodedCache) config(raw []byte) (map[string]any, error) {
	c.mu.Lock()
	v, ok := c.configs[string(raw)]
	c.mu.Unlock()
	if !ok {
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.configs == nil || len(c.configs) >= maxDecoded {
			c.configs = make(map[string]map[string]any)
		}
		c.configs[string(raw)] = v
		c.mu.Unlock()
	}
	return copyJSONObject(v), nil
}

func (c *decodedCache) container(raw []byte) (warder.ContainerConfig, error) {
	c.mu.Lock()
	v, ok := c.containers[string(raw)]
	c.mu.Unlock()
	if !ok {
		if err := json.Unmarshal(raw, &v); err != nil {
			return v, err
		}
		c.mu.Lock()
		if c.containers == nil || len(c.containers) >= maxDecoded {
			c.containers = make(map[string]warder.ContainerConfig)
		}
		c.containers[string(raw)] = v
		c.mu.Unlock()
	}
	return v.Clone(), nil
}

// copyJSONObject deep-copies a decoded JSON object (nil stays nil).
func copyJSONObject(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyJSON(v)
	}
	return out
}

func copyJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyJSONObject(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyJSON(e)
		}
		return out
	}
	return v // strings, numbers, booleans, nil: values
}
