package app

import (
	"github.com/warder/warder/api"
	"github.com/warder/warder/service"
)

// The service implements every service the API consumes.
var (
	_ api.AuthService      = (*service.Service)(nil)
	_ api.AgentService     = (*service.Service)(nil)
	_ api.AuditService     = (*service.Service)(nil)
	_ api.ChatService      = (*service.Service)(nil)
	_ api.KeyService       = (*service.Service)(nil)
	_ api.AdminService     = (*service.Service)(nil)
	_ api.WorkspaceService = (*service.Service)(nil)
)
