package api

import (
	"context"
	"io"
	"net/url"
	"time"

	"github.com/warder/warder"
)

// The services the handlers consume, defined here where they are
// consumed (package service implements them; internal/app checks it).

// ChatService is talking to agents through Warder. Like AgentService, it
// answers ErrNotFound for an agent the caller may not see. A stopped agent
// is started on demand and waited for; either counts as use of the agent.
type ChatService interface {
	// Chat sends the message, with the conversation so far, to the agent and
	// stores both once the answer is complete; a failed turn stores
	// nothing. With onDelta set the agent is asked to stream, and onDelta
	// gets each piece as it arrives (an error from it ends the turn).
	// Failures of the agent or its model wrap ErrBadGateway.
	Chat(ctx context.Context, caller *warder.User, agentID string, req warder.ChatRequest, onDelta func(warder.ChatDelta) error) (*warder.ChatReply, error)
	// Conversations lists the agent's conversations, newest first.
	Conversations(ctx context.Context, caller *warder.User, agentID string, limit int) ([]*warder.Conversation, error)
	// Conversation returns one of the agent's conversations and its latest
	// limit messages, oldest first.
	Conversation(ctx context.Context, caller *warder.User, agentID, conversationID string, limit int) (*warder.Conversation, []*warder.Message, error)
	// AgentEndpoint makes the agent ready to answer (starting it if need
	// be) and returns the base URL of its HTTP port, for proxying.
	AgentEndpoint(ctx context.Context, caller *warder.User, agentID string) (*url.URL, error)
}

// AuthService registers users and turns credentials into bearer tokens.
type AuthService interface {
	// Register creates a user. from is the client's address: many
	// registrations from one address are slowed and then refused
	// (RateLimitError); a server with registration closed refuses all but
	// the first user (ErrForbidden).
	Register(ctx context.Context, req warder.RegisterRequest, from string) (*warder.User, error)
	// Login checks a username (or email) and password and issues a token.
	// from is the client's address: repeated failures from one address, as
	// for one account, are slowed and then refused (RateLimitError).
	Login(ctx context.Context, login, password, from string) (*warder.Session, error)
	// Authenticate returns the user a bearer token belongs to; an unknown,
	// revoked or expired token is ErrUnauthorized.
	Authenticate(ctx context.Context, token string) (*warder.User, error)
	// Logout revokes the token at once. For an API key that is the key
	// itself, and every key made with it.
	Logout(ctx context.Context, token string) error
	// Refresh exchanges a refresh token for a new access token and a new
	// refresh token; each is good once, and a used, revoked or expired one
	// is ErrUnauthorized.
	Refresh(ctx context.Context, refreshToken string) (*warder.Session, error)
}

// AdminService is what only admins may do.
type AdminService interface {
	ListUsers(ctx context.Context, caller *warder.User) ([]*warder.User, error)
	// CreateUser makes a plain user, as registration would: the way in
	// when registration is closed.
	CreateUser(ctx context.Context, caller *warder.User, req warder.RegisterRequest) (*warder.User, error)
	// SetUserDisabled disables a user (their tokens stop working at once
	// and their agents are stopped) or enables them again.
	SetUserDisabled(ctx context.Context, caller *warder.User, id string, disabled bool) error
	SetUserLimits(ctx context.Context, caller *warder.User, id string, l warder.Limits) (warder.Usage, error)
	// SystemStatus is overall health and use.
	SystemStatus(ctx context.Context, caller *warder.User) (*warder.SystemStatus, error)
	// Usage is a user's limits and use: the caller's own, or, for an
	// admin, anyone's.
	Usage(ctx context.Context, caller *warder.User, userID string) (warder.Usage, error)
}

// KeyService manages a user's API keys.
type KeyService interface {
	// CreateAPIKey makes a key and returns it with its secret, which is
	// never shown again.
	CreateAPIKey(ctx context.Context, caller *warder.User, req warder.APIKeyCreate) (*warder.APIKey, string, error)
	APIKeys(ctx context.Context, caller *warder.User) ([]*warder.APIKey, error)
	DeleteAPIKey(ctx context.Context, caller *warder.User, id string) error
}

// WorkspaceService is what a caller can do with workspaces, files and
// exec. Agents the caller may not see are ErrNotFound, as elsewhere.
type WorkspaceService interface {
	// StatFile describes path in the agent's workspace.
	StatFile(ctx context.Context, caller *warder.User, id, path string) (warder.FileInfo, error)
	ListDir(ctx context.Context, caller *warder.User, id, path string) (*warder.DirListing, error)
	// ReadTar streams path (a file or a directory) as a tar.
	ReadTar(ctx context.Context, caller *warder.User, id, path string) (io.ReadCloser, error)
	// WriteFile writes size bytes of r to path; WriteTarTo extracts a tar
	// into directory path. Both refuse, before anything is written, what
	// breaks the path rules or would pass the size bounds.
	WriteFile(ctx context.Context, caller *warder.User, id, path string, r io.Reader, size int64) (*warder.FileWritten, error)
	WriteTarTo(ctx context.Context, caller *warder.User, id, path string, r io.Reader) (*warder.FileWritten, error)
	RemoveFile(ctx context.Context, caller *warder.User, id, path string) error
	// Exec runs req in the agent; ready is called once it may run, then
	// out with its output; the result ends it.
	Exec(ctx context.Context, caller *warder.User, id string, req warder.ExecRequest, ready func(), out func(stream string, p []byte) error) (warder.ExecResult, error)
	// Workspaces lists the caller's workspaces (an admin's: all).
	Workspaces(ctx context.Context, caller *warder.User) ([]*warder.Workspace, error)
	// DeleteWorkspace deletes a kept workspace of the caller's.
	DeleteWorkspace(ctx context.Context, caller *warder.User, name string) error
}

// AgentService is everything a caller can do with agents. Every method
// takes the calling user explicitly and answers ErrNotFound for an agent
// the caller may not see, exactly as for one that does not exist.
type AgentService interface {
	CreateAgent(ctx context.Context, caller *warder.User, req warder.AgentCreate) (*warder.Agent, error)
	Agent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error)
	// ListAgents lists the agents of the caller (an admin's: everyone's)
	// that q selects, a page at a time when q.Limit is set.
	ListAgents(ctx context.Context, caller *warder.User, q warder.AgentQuery) (*warder.AgentPage, error)
	// ReplaceAgent is PUT: the fields req sets replace the agent's, those
	// it leaves out are kept (see AgentReplace).
	ReplaceAgent(ctx context.Context, caller *warder.User, id string, req warder.AgentReplace) (*warder.Agent, error)
	// UpdateAgent is PATCH: only the fields req sets change.
	UpdateAgent(ctx context.Context, caller *warder.User, id string, req warder.AgentUpdate) (*warder.Agent, error)
	DeleteAgent(ctx context.Context, caller *warder.User, id string) error
	// DeleteAgentWith deletes an agent as DeleteAgent does, and its
	// workspace unless opts keeps it.
	DeleteAgentWith(ctx context.Context, caller *warder.User, id string, opts warder.DeleteOptions) error

	StartAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error)
	StopAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error)
	RestartAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error)
	// PauseAgent freezes a running agent (its memory, port and workspace
	// kept; no CPU used); ResumeAgent thaws it. Any request that needs a
	// paused agent resumes it first. A runtime without pause answers
	// ErrNotSupported.
	PauseAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error)
	ResumeAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error)
}

// ObserveService is what a caller reads of agents as they run: logs,
// resource use and status changes, for agents the caller may see (others
// are ErrNotFound, as elsewhere).
type ObserveService interface {
	AgentLogs(ctx context.Context, caller *warder.User, id string, opts warder.LogOptions) (string, error)
	AgentStats(ctx context.Context, caller *warder.User, id string) (warder.Stats, error)
	// AgentStatsHistory returns the samples of the last d, oldest first.
	AgentStatsHistory(ctx context.Context, caller *warder.User, id string, d time.Duration) ([]warder.Stats, error)
	// WatchAgentStats calls ready once the caller may watch, then fn with
	// each sample until ctx ends, fn fails or the container stops
	// (ErrConflict). An error before ready is the request's error.
	WatchAgentStats(ctx context.Context, caller *warder.User, id string, ready func(), fn func(warder.Stats) error) error
	// StreamAgentLogs calls ready once the caller may read the logs, then
	// fn with each line opts selects (see Runtime.StreamLogs).
	StreamAgentLogs(ctx context.Context, caller *warder.User, id string, opts warder.LogOptions, ready func(), fn func(warder.LogLine) error) error
	// WatchEvents calls ready once subscribed (no later change is missed),
	// then fn with every status change of an agent the caller may see,
	// until ctx ends or fn fails. With after > 0 (a reconnecting client's
	// Last-Event-ID) the changes numbered after it that are still kept
	// come first, each change once.
	WatchEvents(ctx context.Context, caller *warder.User, after int64, ready func(), fn func(warder.StatusChange) error) error
	// AgentEvents lists the agent's latest status changes, oldest first.
	AgentEvents(ctx context.Context, caller *warder.User, id string, limit int) ([]*warder.AgentEvent, error)
}

// AuditService records calls and lets admins read them.
type AuditService interface {
	// RecordAudit appends e; At is set when zero.
	RecordAudit(ctx context.Context, e *warder.AuditEntry) error
	// AuditLog lists entries, newest first; callers other than admins get
	// ErrForbidden.
	AuditLog(ctx context.Context, caller *warder.User, q warder.AuditQuery) ([]*warder.AuditEntry, error)
}
