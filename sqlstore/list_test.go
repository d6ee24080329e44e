package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
)

// testListing checks AgentFilter's selections, CountAgents, and keyset
// pages that walk the whole list once, ties on created_at included.
func testListing(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("Plans", func(t *testing.T) { testListingPlans(t, open) })

	t.Run("Filters", func(t *testing.T) {
		db := open(t)
		alice, bob := MustCreateUser(t, db, "alice"), MustCreateUser(t, db, "bob")
		mk := func(user *warder.User, name string, st warder.Status) *warder.Agent {
			a := &warder.Agent{UserID: user.ID, Name: name, Status: st}
			wantNoErr(t, db.CreateAgent(ctx, a))
			return a
		}
		mk(alice, "web-1", warder.StatusRunning)
		mk(alice, "web-2", warder.StatusStopped)
		mk(alice, "Web-3", warder.StatusRunning)
		mk(alice, "w%b", warder.StatusStarting)
		mk(alice, "w_b", warder.StatusCreated)
		mk(alice, "db", warder.StatusFailed)
		mk(bob, "web-1", warder.StatusRunning)
		mk(bob, "other", warder.StatusStopping)

		for _, c := range []struct {
			name string
			f    warder.AgentFilter
			want []string // "user/name", in listing order
		}{
			{"all", warder.AgentFilter{}, []string{"alice/web-1", "alice/web-2", "alice/Web-3", "alice/w%b", "alice/w_b", "alice/db", "bob/web-1", "bob/other"}},
			{"user", warder.AgentFilter{UserID: bob.ID}, []string{"bob/web-1", "bob/other"}},
			{"status", warder.AgentFilter{Statuses: []warder.Status{warder.StatusRunning}}, []string{"alice/web-1", "alice/Web-3", "bob/web-1"}},
			{"statuses", warder.AgentFilter{UserID: alice.ID, Statuses: []warder.Status{warder.StatusRunning, warder.StatusStarting, warder.StatusStopping}}, []string{"alice/web-1", "alice/Web-3", "alice/w%b"}},
			{"status none", warder.AgentFilter{Statuses: []warder.Status{warder.StatusMissing}}, nil},
			{"name exact", warder.AgentFilter{Name: "web-1"}, []string{"alice/web-1", "bob/web-1"}},
			{"name exact, user", warder.AgentFilter{UserID: alice.ID, Name: "web-1"}, []string{"alice/web-1"}},
			{"name is not a prefix", warder.AgentFilter{Name: "web"}, nil},
			{"prefix, case-sensitive", warder.AgentFilter{UserID: alice.ID, NamePrefix: "web-"}, []string{"alice/web-1", "alice/web-2"}},
			{"prefix with % is literal", warder.AgentFilter{NamePrefix: "w%"}, []string{"alice/w%b"}},
			{"prefix with _ is literal", warder.AgentFilter{NamePrefix: "w_"}, []string{"alice/w_b"}},
			{"prefix is the whole name", warder.AgentFilter{NamePrefix: "db"}, []string{"alice/db"}},
			{"prefix longer than names", warder.AgentFilter{NamePrefix: "db-and-more"}, nil},
			{"prefix and status", warder.AgentFilter{NamePrefix: "web", Statuses: []warder.Status{warder.StatusStopped}}, []string{"alice/web-2"}},
			{"limit", warder.AgentFilter{UserID: alice.ID, Limit: 2}, []string{"alice/web-1", "alice/web-2"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				list, err := db.ListAgents(ctx, c.f)
				wantNoErr(t, err)
				var got []string
				for _, a := range list {
					owner := map[string]string{alice.ID: "alice", bob.ID: "bob"}[a.UserID]
					got = append(got, owner+"/"+a.Name)
				}
				if !slices.Equal(got, c.want) {
					t.Fatalf("ListAgents(%+v) = %q, want %q", c.f, got, c.want)
				}
				n, err := db.CountAgents(ctx, c.f)
				wantNoErr(t, err)
				if c.f.Limit == 0 && n != len(c.want) {
					t.Fatalf("CountAgents(%+v) = %d, want %d", c.f, n, len(c.want))
				}
			})
		}
		// Count ignores the page.
		n, err := db.CountAgents(ctx, warder.AgentFilter{UserID: alice.ID, Limit: 1, After: &warder.AgentKey{CreatedAt: time.Now().Add(time.Hour), ID: "z"}})
		wantNoErr(t, err)
		if n != 6 {
			t.Fatalf("CountAgents with a page = %d, want 6 (all of alice's)", n)
		}
	})

	t.Run("KeysetPages", func(t *testing.T) {
		db := open(t)
		alice, bob := MustCreateUser(t, db, "alice"), MustCreateUser(t, db, "bob")
		var all []*warder.Agent
		for i := range 23 {
			owner := alice
			if i%4 == 3 {
				owner = bob
			}
			all = append(all, MustCreateAgent(t, db, owner.ID, fmt.Sprintf("agent-%02d", i)))
		}
		// Ties on created_at: the id decides. Put agents 5..14 on one
		// instant, as agents made in one microsecond on a fast machine are.
		tie := dbTime(all[5].CreatedAt)
		for _, a := range all[5:15] {
			_, err := db.db.ExecContext(ctx, `UPDATE agents SET created_at = $1 WHERE id = $2`, tie, a.ID)
			wantNoErr(t, err)
		}
		for _, c := range []struct {
			name string
			f    warder.AgentFilter
		}{
			{"everyone", warder.AgentFilter{}},
			{"alice", warder.AgentFilter{UserID: alice.ID}},
			{"bob", warder.AgentFilter{UserID: bob.ID}},
			{"a prefix", warder.AgentFilter{NamePrefix: "agent-1"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				whole, err := db.ListAgents(ctx, c.f)
				wantNoErr(t, err)
				if !slices.IsSortedFunc(whole, func(a, b *warder.Agent) int {
					if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
						return c
					}
					return compareBytes(a.ID, b.ID)
				}) {
					t.Fatalf("list not in (created_at, id) order: %v", names(whole))
				}
				for _, size := range []int{1, 3, 7, 100} {
					f := c.f
					f.Limit = size
					var walked []*warder.Agent
					for range 100 {
						page, err := db.ListAgents(ctx, f)
						wantNoErr(t, err)
						walked = append(walked, page...)
						if len(page) < size {
							break
						}
						// Through the cursor string, as a client hands it back.
						k, err := warder.ParseCursor(warder.KeyOf(page[len(page)-1]).Cursor())
						wantNoErr(t, err)
						f.After = &k
					}
					if !slices.Equal(names(walked), names(whole)) || len(whole) == 0 {
						t.Fatalf("pages of %d = %v\nwant %v", size, names(walked), names(whole))
					}
				}
			})
		}
	})
}

// testListingPlans checks that the queries of a user's page and of the
// quota count can use the indexes of migration 0008, so neither reads
// every agent. PostgreSQL is told to avoid sequential scans (on a table
// this small it would rightly prefer one), then asked for its plan.
func testListingPlans(t *testing.T, open opener) {
	ctx := context.Background()
	db := open(t)
	alice := MustCreateUser(t, db, "alice")
	a := MustCreateAgent(t, db, alice.ID, "one")
	page, pageArgs := `SELECT id FROM agents WHERE user_id = $1 AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT 10`, []any{alice.ID, a.CreatedAt, a.ID}
	count, countArgs := `SELECT COUNT(*) FROM agents WHERE user_id = $1 AND status IN ($2, $3, $4)`, []any{alice.ID, "running", "starting", "stopping"}
	for _, c := range []struct {
		query, index string
		args         []any
	}{
		{page, "agents_user_created_at", pageArgs},
		{count, "agents_user_status", countArgs},
	} {
		tx, err := db.db.BeginTx(ctx, nil)
		wantNoErr(t, err)
		explain := `EXPLAIN QUERY PLAN `
		if db.dialect.name == "postgres" {
			_, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`)
			wantNoErr(t, err)
			explain = `EXPLAIN `
		}
		rows, err := tx.QueryContext(ctx, explain+c.query, c.args...)
		wantNoErr(t, err)
		var plan []string
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			wantNoErr(t, rows.Scan(ptrs...))
			plan = append(plan, fmt.Sprint(vals...))
		}
		wantNoErr(t, rows.Err())
		rows.Close()
		tx.Rollback()
		if !strings.Contains(strings.Join(plan, "\n"), c.index) {
			t.Errorf("%s: plan uses no %s:\n%s", c.query, c.index, strings.Join(plan, "\n"))
		}
	}
}

// compareBytes orders ids as both databases do: bytewise.
func compareBytes(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
