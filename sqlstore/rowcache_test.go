package sqlstore

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/warder/warder"
)

// The row cache's rules, on the cache alone; the store tests
// (cachedagent_test.go) hold every writer to them on both databases.

// cacheRow fills c with a under a fresh token, as CachedAgent does on a
// miss, and fails unless the next get is a hit.
func cacheRow(t *testing.T, c *rowCache, a *warder.Agent, now time.Time, shared bool) {
	t.Helper()
	got, token := c.get(a.ID, now, shared)
	if got != nil || token == 0 {
		t.Fatalf("get of an uncached row = %v, token %d; want a miss with a token", got, token)
	}
	c.put(token, a)
	if got, _ := c.get(a.ID, now, shared); got == nil {
		t.Fatal("the row just put is not served")
	}
}

func TestRowCacheServesUntilTTL(t *testing.T) {
	var c rowCache
	now := time.Now()
	a := &warder.Agent{ID: "a", Name: "one"}
	cacheRow(t, &c, a, now, false)
	a.Name = "changed by the caller" // put kept its own copy
	if got, _ := c.get("a", now.Add(rowTTL/2), false); got == nil || got.Name != "one" {
		t.Fatalf("within the TTL: %+v", got)
	}
	if got, token := c.get("a", now.Add(rowTTL), false); got != nil || token == 0 {
		t.Fatalf("at the TTL: %+v, token %d; want a miss to refill", got, token)
	}
}

// TestRowCacheRefreshesAhead: in a row's last quarter one reader gets a
// token to read it again while the others are still served; the new row
// then lasts a TTL from when that read began. A write during the refresh
// wins over it.
func TestRowCacheRefreshesAhead(t *testing.T) {
	var c rowCache
	now := time.Now()
	cacheRow(t, &c, &warder.Agent{ID: "a", Name: "one"}, now, false)
	late := now.Add(rowTTL * 4 / 5)
	got, token := c.get("a", late, false)
	if got != nil || token == 0 {
		t.Fatalf("first reader in the last quarter: %+v, token %d; want a token to refresh", got, token)
	}
	if got, other := c.get("a", late, false); got == nil || got.Name != "one" || other != 0 {
		t.Fatalf("reader during the refresh: %+v, token %d; want the row", got, other)
	}
	c.put(token, &warder.Agent{ID: "a", Name: "two"})
	if got, _ := c.get("a", late.Add(rowTTL/2), false); got == nil || got.Name != "two" {
		t.Fatalf("after the refresh, within its TTL: %+v", got)
	}
	_, token = c.get("a", late.Add(rowTTL*4/5), false)
	c.forget("a")
	c.put(token, &warder.Agent{ID: "a", Name: "read before the write"})
	if got, _ := c.get("a", late.Add(rowTTL*4/5), false); got != nil {
		t.Fatalf("a refresh that raced a write was stored: %+v", got)
	}
}

func TestRowCacheForgetBeatsARacingRead(t *testing.T) {
	for _, drop := range []struct {
		name string
		do   func(c *rowCache)
	}{
		{"forget", func(c *rowCache) { c.forget("a") }},
		{"notified", func(c *rowCache) { c.notified("a") }},
		{"notified all", func(c *rowCache) { c.notified("") }},
		{"flush", func(c *rowCache) { c.flush() }},
	} {
		t.Run(drop.name, func(t *testing.T) {
			var c rowCache
			now := time.Now()
			// A read begins (token), reads the old row; a write lands
			// and drops the row; the read then puts what it read.
			_, token := c.get("a", now, false)
			drop.do(&c)
			c.put(token, &warder.Agent{ID: "a", Name: "old"})
			if got, _ := c.get("a", now, false); got != nil {
				t.Fatalf("a read that began before the write was stored: %+v", got)
			}
		})
	}
}

func TestRowCacheConcurrentMissesShareAToken(t *testing.T) {
	var c rowCache
	now := time.Now()
	_, first := c.get("a", now, false)
	_, second := c.get("a", now.Add(time.Millisecond), false)
	if first == 0 || second != first {
		t.Fatalf("tokens %d and %d: a second miss must not void the first read", first, second)
	}
	c.put(second, &warder.Agent{ID: "a", Name: "second"})
	c.put(first, &warder.Agent{ID: "a", Name: "first"}) // the entry is filled: ignored
	if got, _ := c.get("a", now, false); got == nil || got.Name != "second" {
		t.Fatalf("got %+v", got)
	}
	// A pending entry outlives no TTL: a read stuck past it starts over.
	_, stale := c.get("b", now, false)
	if _, token := c.get("b", now.Add(rowTTL), false); token == stale {
		t.Fatal("a pending entry older than the TTL was handed out again")
	}
}

func TestRowCacheSharedNeedsAListener(t *testing.T) {
	var c rowCache
	now := time.Now()
	if got, token := c.get("a", now, true); got != nil || token != 0 {
		t.Fatalf("shared, nobody listening: %v, token %d; want no cache at all", got, token)
	}
	c.listening(true)
	cacheRow(t, &c, &warder.Agent{ID: "a"}, now, true)
	c.listening(true) // a second listener
	c.listening(false)
	if got, _ := c.get("a", now, true); got != nil {
		t.Fatal("a listener went down and the rows stayed: what it missed is unknown")
	}
	cacheRow(t, &c, &warder.Agent{ID: "a"}, now, true) // the other still listens
	_, token := c.get("b", now, true)
	c.listening(false)
	c.put(token, &warder.Agent{ID: "b"})
	if got, token := c.get("a", now, true); got != nil || token != 0 {
		t.Fatalf("nobody listening: %v, token %d", got, token)
	}
	c.listening(true)
	if got, _ := c.get("b", now, true); got != nil {
		t.Fatal("a read begun before the listener dropped was stored")
	}
	// SQLite has no listener and needs none.
	var lite rowCache
	cacheRow(t, &lite, &warder.Agent{ID: "a"}, now, false)
}

func TestRowCacheBounded(t *testing.T) {
	var c rowCache
	now := time.Now()
	for i := range 3 * maxCachedRows {
		id := fmt.Sprint(i)
		_, token := c.get(id, now, false)
		c.put(token, &warder.Agent{ID: id})
		if len(c.m) > maxCachedRows {
			t.Fatalf("%d rows after %d reads; the bound is %d", len(c.m), i+1, maxCachedRows)
		}
	}
	last := fmt.Sprint(3*maxCachedRows - 1)
	if got, _ := c.get(last, now, false); got == nil {
		t.Fatal("the newest row was evicted")
	}
}

// TestCloneAgentSharesNothing: every map, slice and pointer of Agent is
// copied, so a caller changing what CachedAgent returned changes nothing
// cached. It fails on a new field of such a kind until cloneAgent and
// this test copy and change it too.
func TestCloneAgentSharesNothing(t *testing.T) {
	code := 3
	sample := func() *warder.Agent {
		return &warder.Agent{
			ID:            "a",
			Config:        map[string]any{"nested": map[string]any{"list": []any{"x"}}},
			KnowledgeBase: map[string]any{"kb": map[string]any{"n": 1}},
			ExitCode:      &code,
			ContainerConfig: warder.ContainerConfig{
				EnvVars: map[string]string{"K": "v"}, SecretEnv: map[string]string{"S": "s"},
				SecretEnvNames: []string{"S"}, Egress: warder.Egress{"example.com"},
			},
		}
	}
	a := sample()
	handled := map[string]bool{"Config": true, "KnowledgeBase": true, "ExitCode": true, "ContainerConfig.EnvVars": true,
		"ContainerConfig.SecretEnv": true, "ContainerConfig.SecretEnvNames": true, "ContainerConfig.Egress": true}
	for _, f := range referenceFields(reflect.TypeFor[warder.Agent](), "") {
		if !handled[f] {
			t.Errorf("Agent.%s shares memory between copies: copy it in cloneAgent and change it here", f)
		}
	}
	c := cloneAgent(a)
	c.Config["nested"].(map[string]any)["list"].([]any)[0] = "changed"
	c.Config["new"] = true
	c.KnowledgeBase["kb"].(map[string]any)["n"] = 2
	*c.ExitCode = 9
	c.ContainerConfig.EnvVars["K"] = "changed"
	c.ContainerConfig.SecretEnv["S"] = "changed"
	c.ContainerConfig.SecretEnvNames[0] = "changed"
	c.ContainerConfig.Egress[0] = "changed"
	if code != 3 || !reflect.DeepEqual(a, sample()) {
		t.Fatalf("changing the copy changed the original: %+v", a)
	}
}

// referenceFields names the fields of struct type t (prefixed) whose
// values can share memory: maps, slices, pointers, interfaces, channels
// and functions, looking inside nested structs but time.Time.
func referenceFields(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		name := prefix + f.Name
		switch f.Type.Kind() {
		case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Interface, reflect.Chan, reflect.Func:
			out = append(out, name)
		case reflect.Struct:
			if f.Type != reflect.TypeFor[time.Time]() {
				out = append(out, referenceFields(f.Type, name+".")...)
			}
		}
	}
	return out
}
