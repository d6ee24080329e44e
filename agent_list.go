package warder

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// MaxAgentPage is the largest page GET /api/agents answers when asked
// for one (?limit=); without a limit the whole list comes, as the seed's
// clients expect.
const MaxAgentPage = 1000

// AgentStatuses are the statuses an agent can be in, the values
// GET /api/agents?status= takes.
var AgentStatuses = []Status{
	StatusCreated, StatusStarting, StatusRunning, StatusStopping,
	StatusStopped, StatusExited, StatusFailed, StatusMissing, StatusPaused,
}

// AgentKey is an agent's place in the listing order: created_at, then id.
// A page's cursor is the key of its last agent.
type AgentKey struct {
	CreatedAt time.Time
	ID        string
}

// KeyOf is a's place in the listing order.
func KeyOf(a *Agent) AgentKey { return AgentKey{CreatedAt: a.CreatedAt, ID: a.ID} }

// cursorVersion leads every cursor, so the format can change without an
// old cursor being read as a new one.
const cursorVersion = "a1"

// Cursor encodes k as an opaque string for a client to hand back: URL-safe
// base64 of "a1.<created_at in Unix microseconds>.<id>". Clients must not
// take it apart; the server only promises to accept what it gave.
func (k AgentKey) Cursor() string {
	raw := cursorVersion + "." + strconv.FormatInt(k.CreatedAt.UnixMicro(), 10) + "." + k.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseCursor reads a cursor made by AgentKey.Cursor; anything else is
// ErrInvalid. The times Warder stores have microsecond precision, so the
// key round-trips exactly.
func ParseCursor(s string) (AgentKey, error) {
	bad := Errorf(ErrInvalid, "cursor %q is not one this server gave: pass the X-Next-Cursor of the previous page as it came", clip(s, 80))
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return AgentKey{}, bad
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 3 || parts[0] != cursorVersion {
		return AgentKey{}, bad
	}
	micros, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || micros < 0 {
		return AgentKey{}, bad
	}
	id, err := uuid.Parse(parts[2])
	if err != nil || id.String() != parts[2] {
		return AgentKey{}, bad
	}
	return AgentKey{CreatedAt: time.UnixMicro(micros).UTC(), ID: parts[2]}, nil
}

// clip cuts s to at most n bytes for an error message, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// AgentQuery is what GET /api/agents asks: filters, and a page.
type AgentQuery struct {
	// UserID narrows an admin's listing to one user's agents; others may
	// only name themselves.
	UserID string
	// Statuses keeps agents in any of them (?status=running,starting).
	Statuses []Status
	// Name keeps the agent of exactly this name (?name=); NamePrefix those
	// whose name starts with it (?name_prefix=). Both are case-sensitive.
	Name, NamePrefix string
	// Limit, between 1 and MaxAgentPage, asks for a page of at most that
	// many; 0 asks for every agent at once.
	Limit int
	// Cursor continues after the page that answered it (AgentPage.Next).
	Cursor string
}

// Validate checks q and returns the filter it means for the store, but
// for the user: the service decides whose agents a caller sees.
func (q AgentQuery) Validate() (AgentFilter, error) {
	f := AgentFilter{Name: q.Name, NamePrefix: q.NamePrefix, Limit: q.Limit}
	if q.Limit < 0 || q.Limit > MaxAgentPage {
		return f, Errorf(ErrInvalid, "limit must be between 1 and %d, not %d", MaxAgentPage, q.Limit)
	}
	for _, st := range q.Statuses {
		if !slices.Contains(AgentStatuses, st) {
			return f, Errorf(ErrInvalid, "status %q is not an agent status; use one or more of %s", clip(string(st), 40), statusList())
		}
		if !slices.Contains(f.Statuses, st) {
			f.Statuses = append(f.Statuses, st)
		}
	}
	if q.UserID != "" {
		if _, err := uuid.Parse(q.UserID); err != nil {
			return f, Errorf(ErrInvalid, "user_id %q is not a valid id", clip(q.UserID, 80))
		}
	}
	// As agent names are: no name outside these rules exists to match.
	if err := validText("name", q.Name, 100); err != nil {
		return f, err
	}
	if err := validText("name_prefix", q.NamePrefix, 100); err != nil {
		return f, err
	}
	if q.Cursor != "" {
		k, err := ParseCursor(q.Cursor)
		if err != nil {
			return f, err
		}
		f.After = &k
	}
	return f, nil
}

// statusList is AgentStatuses as a comma-separated list for messages.
func statusList() string {
	names := make([]string, len(AgentStatuses))
	for i, s := range AgentStatuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// AgentPage is one answer of a listing: the agents, and the cursor of the
// next page ("" when this one is the last).
type AgentPage struct {
	Agents []*Agent
	Next   string
}
