package warder

import "github.com/warder/warder/wire"

// Quotas, use and the installation's status are the API's shapes,
// defined in package wire (docs/architecture.md, "Wire types").
type (
	Limits        = wire.Limits
	Usage         = wire.Usage
	ImagesAllowed = wire.ImagesAllowed
	LimitsInUse   = wire.LimitsInUse
	SystemStatus  = wire.SystemStatus
)
