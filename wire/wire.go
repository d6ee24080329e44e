package wire

import (
	"fmt"
	"time"
)

// The API's JSON shapes that are not entities of their own: envelopes,
// acknowledgements and the events of streams.

// ErrorResponse is every error's body, as the seed's FastAPI clients
// expect it: {"detail": "..."}. An event stream that fails after it began
// sends it as an "error" event.
type ErrorResponse struct {
	Detail string `json:"detail"`
}

// MessageResponse is the seed's answer to lifecycle calls:
// {"message": "Agent container started successfully"}.
type MessageResponse struct {
	Message string `json:"message"`
}

// LoginRequest is the JSON body of POST /api/auth/login; Username may
// also be an email address. The same fields come as an OAuth2 password
// form (application/x-www-form-urlencoded) there and at /api/auth/token.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// TokenResponse is what a login (and a refresh) answers: an OAuth2 bearer
// token, the refresh token that renews it once, and whom they are for, as
// the original Warder's login answered.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	// ExpiresIn is the token's lifetime in seconds.
	ExpiresIn int `json:"expires_in"`
	// RefreshToken is good for one POST /api/auth/refresh.
	RefreshToken string `json:"refresh_token"`
	UserID       string `json:"user_id"`
	Username     string `json:"username"`
	Role         Role   `json:"role"`
}

// RefreshRequest is the body of POST /api/auth/refresh.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// Me is GET /api/auth/me (and /api/users/me): who the caller is.
type Me struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	Role      Role   `json:"role"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	// CreatedAt, UpdatedAt and Status are the account's, as in User.
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	Status    UserStatus `json:"status"`
}

// APIKeyCreated is the one answer that shows a key's secret, Key.
type APIKeyCreated struct {
	*APIKey
	Key string `json:"key"`
}

// LogsResponse is GET /api/agents/{id}/logs when not streamed.
type LogsResponse struct {
	Logs string `json:"logs"`
}

// StatsResponse is GET /api/agents/{id}/stats: the seed's {"stats": {...}}.
type StatsResponse struct {
	Stats StatsView `json:"stats"`
}

// StatsHistoryResponse is GET /api/agents/{id}/stats?history=: the
// newest sample and the samples kept, oldest first.
type StatsHistoryResponse struct {
	Stats   StatsView `json:"stats"`
	History []Stats   `json:"history"`
}

// Stats is one sample of an agent's resource use, as the API shows it.
// It has the fields of the runtime's warder.Stats, which package api
// converts to it (a Go conversion, so a field added to one and not the
// other does not build).
type Stats struct {
	CPUPercent       float64   `json:"cpu_percent"`
	MemoryBytes      uint64    `json:"memory_bytes"`
	MemoryLimitBytes uint64    `json:"memory_limit_bytes"`
	NetworkRxBytes   uint64    `json:"network_rx_bytes"`
	NetworkTxBytes   uint64    `json:"network_tx_bytes"`
	BlockReadBytes   uint64    `json:"block_read_bytes"`
	BlockWriteBytes  uint64    `json:"block_write_bytes"`
	Pids             uint64    `json:"pids"`
	ReadAt           time.Time `json:"read_at"`
}

// StatsView is a sample as the API shows it: each figure twice, as the
// seed's human string ("1.25%", "1.6MB") and as a number for programs.
// A stats stream sends one per "stats" event.
type StatsView struct {
	CPUUsage      string `json:"cpu_usage"`
	MemoryUsage   string `json:"memory_usage"`
	MemoryLimit   string `json:"memory_limit"`
	MemoryPercent string `json:"memory_percent"`
	NetworkRx     string `json:"network_rx"`
	NetworkTx     string `json:"network_tx"`
	BlockRead     string `json:"block_read"`
	BlockWrite    string `json:"block_write"`
	Stats
}

// NewStatsView renders st for the API; a sample without a time is now's.
func NewStatsView(st Stats) StatsView {
	memPct := 0.0
	if st.MemoryLimitBytes > 0 {
		memPct = float64(st.MemoryBytes) / float64(st.MemoryLimitBytes) * 100
	}
	if st.ReadAt.IsZero() {
		st.ReadAt = time.Now().UTC()
	}
	return StatsView{
		CPUUsage:      fmt.Sprintf("%.2f%%", st.CPUPercent),
		MemoryUsage:   HumanBytes(st.MemoryBytes),
		MemoryLimit:   HumanBytes(st.MemoryLimitBytes),
		MemoryPercent: fmt.Sprintf("%.2f%%", memPct),
		NetworkRx:     HumanBytes(st.NetworkRxBytes),
		NetworkTx:     HumanBytes(st.NetworkTxBytes),
		BlockRead:     HumanBytes(st.BlockReadBytes),
		BlockWrite:    HumanBytes(st.BlockWriteBytes),
		Stats:         st,
	}
}

// HumanBytes writes a size as docker stats does, in binary units with the
// seed's short labels: 1.6MB is 1.6 MiB.
func HumanBytes(b uint64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	v := float64(b)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", b)
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}

// AgentEventsResponse is GET /api/agents/{id}/events: the agent's status
// history, oldest first.
type AgentEventsResponse struct {
	Events []*AgentEvent `json:"events"`
}

// ConversationsResponse is GET /api/agents/{id}/conversations.
type ConversationsResponse struct {
	Conversations []*Conversation `json:"conversations"`
}

// ConversationDetail is one conversation with its latest messages,
// oldest first.
type ConversationDetail struct {
	*Conversation
	Messages []*Message `json:"messages"`
}

// AuditResponse is GET /api/audit, newest first.
type AuditResponse struct {
	Entries []*AuditEntry `json:"entries"`
}

// HealthResponse is GET /healthz ("ok") and GET /readyz ("ready").
type HealthResponse struct {
	Status string `json:"status"`
}

// StreamEnd is the data of the "end" event that closes an event stream
// (logs, stats, events): why it ended.
type StreamEnd struct {
	Reason string `json:"reason"`
}

// ChatPiece is one piece of a streamed chat answer, the data of each
// unnamed event before "done".
type ChatPiece struct {
	Content string `json:"content"`
}
