package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// TestClientListAgents: ListAgents sends the filters and a page size,
// and hands back the next page's cursor until the last page; a bad
// parameter is the server's 400 as a *client.Error.
func TestClientListAgents(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, nil)
	admin, _ := mustSignIn(t, s, "root")
	alice, aliceUser := mustSignIn(t, s, "alice")
	var want []string
	for i := range 7 {
		a := try(alice.CreateAgent(ctx, wire.AgentCreate{Name: fmt.Sprintf("web-%d", i)})).must(t)
		want = append(want, a.ID)
	}
	try(alice.CreateAgent(ctx, wire.AgentCreate{Name: "db"})).must(t)
	try(alice.StartAgent(ctx, want[3])).must(t)

	q := client.AgentQuery{NamePrefix: "web-", Limit: 3}
	var got []string
	pages := 0
	for {
		page := try(alice.ListAgents(ctx, q)).must(t)
		pages++
		for _, a := range page.Agents {
			got = append(got, a.ID)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("pages: %d agents in %d pages, want the 7 web-* in 3", len(got), pages)
	}
	running := try(alice.ListAgents(ctx, client.AgentQuery{Statuses: []wire.Status{wire.StatusRunning, wire.StatusStarting}})).must(t)
	if len(running.Agents) != 1 || running.Agents[0].ID != want[3] || running.Next != "" {
		t.Fatalf("running: %+v", running)
	}
	byName := try(admin.ListAgents(ctx, client.AgentQuery{UserID: aliceUser.ID, Name: "db"})).must(t)
	if len(byName.Agents) != 1 || byName.Agents[0].Name != "db" {
		t.Fatalf("admin, alice's db: %+v", byName.Agents)
	}
	_, err := alice.ListAgents(ctx, client.AgentQuery{Limit: warder.MaxAgentPage + 1})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Detail == "" {
		t.Fatalf("limit over the maximum: %v", err)
	}
	if _, err := alice.ListAgents(ctx, client.AgentQuery{Cursor: "forged"}); client.StatusOf(err) != http.StatusBadRequest {
		t.Fatalf("forged cursor: %v", err)
	}
}
