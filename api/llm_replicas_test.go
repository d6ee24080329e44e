package api_test

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/llmtest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestReplicasShareLLMBudget: two replicas on one PostgreSQL database
// (one secret key, so one agent's token is good on both) keep one
// budget. Requests alternating between them stop at exactly the one
// that crosses it; a burst at both at once loses no usage (the store
// holds exactly what the provider counted) and, once over, both refuse.
func TestReplicasShareLLMBudget(t *testing.T) {
	t.Parallel()
	url := testenv.Postgres(t)
	key := make([]byte, 32)
	rand.Read(key)
	const budget = 100 // 15 tokens a request: the 7th crosses it (90 -> 105)
	var rs []*apiServer
	var up *llmtest.Upstream
	for range 2 {
		r, u := llmServer(t, func(c *app.Config) {
			c.DatabaseURL, c.SecretKey = url, hex.EncodeToString(key)
			n := int64(budget)
			c.Quota.AgentLLMTokensPerDay = &n
			if up != nil {
				c.LLMUpstreams[0].URL = up.BaseURL() // one provider, to count its answers
			}
		})
		rs = append(rs, r)
		if up == nil {
			up = u
		}
	}
	alice := rs[0].register(t, "alice")
	gw := func(i int) string { return rs[i%2].URL + "/llm/v1/chat/completions" }

	// Alternating: exactly seven answers, then both replicas refuse.
	a := alice.CreateAgent("alternating")
	_, token := gatewayToken(t, rs[0], alice, a.ID)
	for i := range 10 {
		status, body, _ := llmtest.Post(t, gw(i), token, llmtest.Chat("gpt-test", i%3 == 0))
		switch {
		case i < 7 && status != 200:
			t.Errorf("request %d, on replica %d: %d %s", i, i%2, status, body)
		case i >= 7 && (status != 429 || !strings.Contains(body, "(105 of 100 tokens)")):
			t.Errorf("request %d, on replica %d: %d %s, want 429 at 105 of 100", i, i%2, status, body)
		}
	}

	// A burst at both at once.
	b := alice.CreateAgent("burst")
	_, tokenB := gatewayToken(t, rs[0], alice, b.ID)
	before := up.Metered.Load()
	var mu sync.Mutex
	answered := 0
	apitest.Parallel(24, func(i int) {
		if status, _, _ := llmtest.Post(t, gw(i), tokenB, llmtest.Chat("gpt-test", i%2 == 0)); status == 200 {
			mu.Lock()
			answered++
			mu.Unlock()
		}
	})
	metered := up.Metered.Load() - before
	var u [2]warder.AgentLLMUsage
	for i, r := range rs {
		on := &apitest.Client{T: t, Base: r.URL, Token: alice.Token}
		on.MustDo("GET", "/api/agents/"+b.ID+"/usage", nil, 200, &u[i])
	}
	if u[0].Today != u[1].Today || u[0].Today.TotalTokens != metered || u[0].Today.Requests != int64(answered) || metered < budget {
		t.Errorf("after the burst: %d answered, the provider metered %d tokens; the replicas say %+v and %+v", answered, metered, u[0].Today, u[1].Today)
	}
	t.Logf("a burst of 24 at two replicas: %d answered (%d tokens) against a budget of %d", answered, metered, budget)
	for i := range 2 {
		if status, body, _ := llmtest.Post(t, gw(i), tokenB, llmtest.Chat("gpt-test", false)); status != 429 {
			t.Errorf("after the burst, replica %d: %d %s", i, status, body)
		}
	}
}
