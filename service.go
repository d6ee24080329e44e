package warder

import (
	"context"
	"time"
)

// AuthService registers users and turns credentials into bearer tokens.
type AuthService interface {
	// Register creates a user. from is the client's address: many
	// registrations from one address are slowed and then refused
	// (RateLimitError); a server with registration closed refuses all but
	// the first user (ErrForbidden).
	Register(ctx context.Context, req RegisterRequest, from string) (*User, error)
	// Login checks a username (or email) and password and issues a token.
	// from is the client's address: repeated failures from one address, as
	// for one account, are slowed and then refused (RateLimitError).
	Login(ctx context.Context, login, password, from string) (*Session, error)
	// Authenticate returns the user a bearer token belongs to; an unknown,
	// revoked or expired token is ErrUnauthorized.
	Authenticate(ctx context.Context, token string) (*User, error)
	// Logout revokes the token at once. For an API key that is the key
	// itself, and every key made with it.
	Logout(ctx context.Context, token string) error
}

// Session is an issued bearer token. The token itself is only ever
// returned here; the store keeps its hash.
type Session struct {
	AccessToken string        `json:"access_token"`
	TokenType   string        `json:"token_type"`
	ExpiresIn   time.Duration `json:"-"`
}

// AgentService is everything a caller can do with agents. Every method
// takes the calling user explicitly and answers ErrNotFound for an agent
// the caller may not see, exactly as for one that does not exist.
type AgentService interface {
	CreateAgent(ctx context.Context, caller *User, req AgentCreate) (*Agent, error)
	Agent(ctx context.Context, caller *User, id string) (*Agent, error)
	ListAgents(ctx context.Context, caller *User) ([]*Agent, error)
	// ReplaceAgent is PUT: every editable field is taken from req.
	ReplaceAgent(ctx context.Context, caller *User, id string, req AgentCreate) (*Agent, error)
	// UpdateAgent is PATCH: only the fields req sets change.
	UpdateAgent(ctx context.Context, caller *User, id string, req AgentUpdate) (*Agent, error)
	DeleteAgent(ctx context.Context, caller *User, id string) error

	StartAgent(ctx context.Context, caller *User, id string) (*Agent, error)
	StopAgent(ctx context.Context, caller *User, id string) (*Agent, error)
	RestartAgent(ctx context.Context, caller *User, id string) (*Agent, error)
	AgentLogs(ctx context.Context, caller *User, id string, opts LogOptions) (string, error)
	AgentStats(ctx context.Context, caller *User, id string) (Stats, error)
	// AgentStatsHistory returns the samples of the last d, oldest first.
	AgentStatsHistory(ctx context.Context, caller *User, id string, d time.Duration) ([]Stats, error)
	// WatchAgentStats calls ready once the caller may watch, then fn with
	// each sample until ctx ends, fn fails or the container stops
	// (ErrConflict). An error before ready is the request's error.
	WatchAgentStats(ctx context.Context, caller *User, id string, ready func(), fn func(Stats) error) error
	// StreamAgentLogs calls ready once the caller may read the logs, then
	// fn with each line opts selects (see Runtime.StreamLogs).
	StreamAgentLogs(ctx context.Context, caller *User, id string, opts LogOptions, ready func(), fn func(LogLine) error) error
	// WatchEvents calls ready once subscribed (no later change is missed),
	// then fn with every status change of an agent the caller may see,
	// until ctx ends or fn fails.
	WatchEvents(ctx context.Context, caller *User, ready func(), fn func(StatusChange) error) error
	// AgentEvents lists the agent's latest status changes, oldest first.
	AgentEvents(ctx context.Context, caller *User, id string, limit int) ([]*AgentEvent, error)
}
