package warder

import "github.com/warder/warder/wire"

// The API's envelopes, acknowledgements and stream events, defined in
// package wire (docs/architecture.md, "Wire types"), under the names the
// server's code has always used.
type (
	ErrorResponse         = wire.ErrorResponse
	MessageResponse       = wire.MessageResponse
	LoginRequest          = wire.LoginRequest
	TokenResponse         = wire.TokenResponse
	RefreshRequest        = wire.RefreshRequest
	Me                    = wire.Me
	APIKeyCreated         = wire.APIKeyCreated
	LogsResponse          = wire.LogsResponse
	StatsResponse         = wire.StatsResponse
	StatsHistoryResponse  = wire.StatsHistoryResponse
	StatsView             = wire.StatsView
	AgentEventsResponse   = wire.AgentEventsResponse
	ConversationsResponse = wire.ConversationsResponse
	ConversationDetail    = wire.ConversationDetail
	AuditResponse         = wire.AuditResponse
	HealthResponse        = wire.HealthResponse
	StreamEnd             = wire.StreamEnd
	ChatPiece             = wire.ChatPiece
)
