package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/warder/warder"
)

var _ warder.LLMUsageStore = (*DB)(nil)

// maxModelName bounds the model name a row is kept under: it comes from
// the model provider's answer.
const maxModelName = 200

// RecordLLMCall adds c to its agent's row of its day and model in one
// statement: INSERT ... ON CONFLICT DO UPDATE adds to the row under its
// lock, so calls recorded at once by any number of replicas all count.
func (db *DB) RecordLLMCall(ctx context.Context, c warder.LLMCall) (err error) {
	defer db.classify(&err)
	if c.At.IsZero() {
		c.At = now()
	}
	model := warder.StorableText(c.Model)
	if len(model) > maxModelName {
		model = strings.ToValidUTF8(model[:maxModelName], "")
	}
	_, err = db.db.ExecContext(ctx, `
		INSERT INTO llm_usage (agent_id, user_id, usage_day, model, requests, prompt_tokens, completion_tokens)
		VALUES ($1, $2, $3, $4, 1, $5, $6)
		ON CONFLICT (agent_id, usage_day, model) DO UPDATE SET
			requests = llm_usage.requests + 1,
			prompt_tokens = llm_usage.prompt_tokens + excluded.prompt_tokens,
			completion_tokens = llm_usage.completion_tokens + excluded.completion_tokens`,
		c.AgentID, c.UserID, warder.LLMDay(c.At), model, max(c.PromptTokens, 0), max(c.CompletionTokens, 0))
	if err != nil {
		return fmt.Errorf("sqlstore: record LLM usage: %w", err)
	}
	return nil
}

// monthSpan is the first day of t's UTC month and the first of the next.
func monthSpan(t time.Time) (from, to string) {
	t = t.UTC()
	first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return warder.LLMDay(first), warder.LLMDay(first.AddDate(0, 1, 0))
}

// LLMTotals sums the agent's and its user's tokens of the day and month
// of now in one query over the user's rows of the month.
func (db *DB) LLMTotals(ctx context.Context, agentID, userID string, now time.Time) (t warder.LLMTotals, err error) {
	defer db.classify(&err)
	from, to := monthSpan(now)
	err = db.db.QueryRowContext(ctx, `
		SELECT
			CAST(COALESCE(SUM(CASE WHEN agent_id = $1 AND usage_day = $3 THEN prompt_tokens + completion_tokens ELSE 0 END), 0) AS BIGINT),
			CAST(COALESCE(SUM(CASE WHEN agent_id = $1 THEN prompt_tokens + completion_tokens ELSE 0 END), 0) AS BIGINT),
			CAST(COALESCE(SUM(CASE WHEN usage_day = $3 THEN prompt_tokens + completion_tokens ELSE 0 END), 0) AS BIGINT),
			CAST(COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS BIGINT)
		FROM llm_usage WHERE user_id = $2 AND usage_day >= $4 AND usage_day < $5`,
		agentID, userID, warder.LLMDay(now), from, to).Scan(&t.AgentDay, &t.AgentMonth, &t.UserDay, &t.UserMonth)
	if err != nil {
		return t, fmt.Errorf("sqlstore: LLM totals: %w", err)
	}
	return t, nil
}

// LLMUsage lists the month's usage f selects, one row per user, agent
// and model, the month's busiest first.
func (db *DB) LLMUsage(ctx context.Context, f warder.LLMUsageFilter) (_ []warder.LLMUsageRow, err error) {
	defer db.classify(&err)
	at := f.At
	if at.IsZero() {
		at = now()
	}
	from, to := monthSpan(at)
	args := []any{warder.LLMDay(at), from, to}
	q := `
		SELECT user_id, agent_id, model,
			CAST(SUM(CASE WHEN usage_day = $1 THEN requests ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN usage_day = $1 THEN prompt_tokens ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN usage_day = $1 THEN completion_tokens ELSE 0 END) AS BIGINT),
			CAST(SUM(requests) AS BIGINT), CAST(SUM(prompt_tokens) AS BIGINT), CAST(SUM(completion_tokens) AS BIGINT)
		FROM llm_usage WHERE usage_day >= $2 AND usage_day < $3`
	if f.UserID != "" {
		args = append(args, f.UserID)
		q += fmt.Sprintf(" AND user_id = $%d", len(args))
	}
	if f.AgentID != "" {
		args = append(args, f.AgentID)
		q += fmt.Sprintf(" AND agent_id = $%d", len(args))
	}
	q += ` GROUP BY user_id, agent_id, model
		ORDER BY SUM(prompt_tokens) + SUM(completion_tokens) DESC, user_id, agent_id, model`
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: LLM usage: %w", err)
	}
	defer rows.Close()
	var out []warder.LLMUsageRow
	for rows.Next() {
		var r warder.LLMUsageRow
		if err := rows.Scan(&r.UserID, &r.AgentID, &r.Model, &r.Today.Requests, &r.Today.PromptTokens, &r.Today.CompletionTokens,
			&r.ThisMonth.Requests, &r.ThisMonth.PromptTokens, &r.ThisMonth.CompletionTokens); err != nil {
			return nil, fmt.Errorf("sqlstore: LLM usage: %w", err)
		}
		r.Today.TotalTokens = r.Today.PromptTokens + r.Today.CompletionTokens
		r.ThisMonth.TotalTokens = r.ThisMonth.PromptTokens + r.ThisMonth.CompletionTokens
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: LLM usage: %w", err)
	}
	return out, nil
}
