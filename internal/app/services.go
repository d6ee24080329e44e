package app

import (
	"github.com/warder/warder/api"
	"github.com/warder/warder/service"
)

// Each feature of the service implements the services the API consumes
// from it.
var (
	_ api.AuthService      = (*service.Auth)(nil)
	_ api.KeyService       = (*service.Auth)(nil)
	_ api.AgentService     = (*service.Agents)(nil)
	_ api.ObserveService   = (*service.Observer)(nil)
	_ api.WorkspaceService = (*service.Files)(nil)
	_ api.TerminalService  = (*service.Files)(nil)
	_ api.ChatService      = (*service.Chat)(nil)
	_ api.AdminService     = (*service.Admin)(nil)
	_ api.AuditService     = (*service.Admin)(nil)
	_ api.SnapshotService  = (*service.Snapshots)(nil)
	_ api.LLMService       = (*service.LLM)(nil)
)
