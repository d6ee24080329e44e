package sqlstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
)

// testLLMUsage: calls are added per agent, day and model; totals sum the
// agent's and its user's day and month (UTC, the month's days only); the
// listing groups by user, agent and model with today's share; calls
// recorded at once all count.
func testLLMUsage(t *testing.T, open opener) {
	db := open(t)
	ctx := context.Background()
	day := time.Date(2026, 12, 7, 23, 30, 0, 0, time.UTC)
	call := func(agent, user, model string, at time.Time, p, c int64) {
		t.Helper()
		wantNoErr(t, db.RecordLLMCall(ctx, warder.LLMCall{AgentID: agent, UserID: user, Model: model, PromptTokens: p, CompletionTokens: c, At: at}))
	}
	call("a1", "u1", "gpt", day, 10, 5)
	call("a1", "u1", "gpt", day.Add(40*time.Minute), 10, 5) // the next day, UTC
	call("a1", "u1", "llama", day.Add(-24*time.Hour), 100, 0)
	call("a2", "u1", "gpt", day, 1, 1)
	call("a3", "u2", "gpt", day, 1000, 1000)
	call("a1", "u1", "gpt", day.AddDate(0, -1, 0), 7000, 0) // last month
	call("a1", "u1", "gpt", day.AddDate(0, 1, 0), 9000, 0)  // next month

	got, err := db.LLMTotals(ctx, "a1", "u1", day)
	wantNoErr(t, err)
	if want := (warder.LLMTotals{AgentDay: 15, AgentMonth: 130, UserDay: 17, UserMonth: 132}); got != want {
		t.Errorf("totals on %s = %+v, want %+v", day, got, want)
	}
	if got, _ := db.LLMTotals(ctx, "nobody", "nobody", day); got != (warder.LLMTotals{}) {
		t.Errorf("totals of nobody = %+v", got)
	}

	rows, err := db.LLMUsage(ctx, warder.LLMUsageFilter{UserID: "u1", At: day})
	wantNoErr(t, err)
	if len(rows) != 3 || rows[0].AgentID != "a1" || rows[0].Model != "llama" || rows[0].ThisMonth.TotalTokens != 100 || rows[0].Today.Requests != 0 ||
		rows[1].Model != "gpt" || rows[1].ThisMonth != (warder.LLMTokens{Requests: 2, PromptTokens: 20, CompletionTokens: 10, TotalTokens: 30}) ||
		rows[1].Today != (warder.LLMTokens{Requests: 1, PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}) || rows[2].AgentID != "a2" {
		t.Errorf("u1's usage: %+v", rows)
	}
	if rows, _ := db.LLMUsage(ctx, warder.LLMUsageFilter{AgentID: "a3", At: day}); len(rows) != 1 || rows[0].UserID != "u2" {
		t.Errorf("a3's usage: %+v", rows)
	}
	if rows, _ := db.LLMUsage(ctx, warder.LLMUsageFilter{At: day}); len(rows) != 4 || rows[0].AgentID != "a3" {
		t.Errorf("everyone's usage: %+v", rows)
	}

	// A long model name is cut, not refused.
	long := make([]byte, 1000)
	for i := range long {
		long[i] = 'm'
	}
	call("a4", "u3", string(long), day, 1, 0)

	// Calls at once all count.
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			if err := db.RecordLLMCall(ctx, warder.LLMCall{AgentID: "a5", UserID: "u5", Model: "gpt", PromptTokens: 3, CompletionTokens: 2, At: day}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got, _ := db.LLMTotals(ctx, "a5", "u5", day); got.AgentDay != 200 || got.UserMonth != 200 {
		t.Errorf("after 40 calls at once: %+v, want 200 tokens", got)
	}
}
