package app

import "fmt"

// The connection caps' defaults (WARDER_MAX_CONNECTIONS and
// WARDER_MAX_CONNECTIONS_PER_ADDRESS; see internal/connlimit).
//
// 4096 in all is far above what Warder's users hold (a browser opens at
// most 6 connections to a host, the CLI one at a time, each stream one)
// and far below what the file-descriptor limit of a service usually is
// (systemd's hard limit is 524288, and Go raises the soft limit to it);
// idle connections cost ~11 KiB each (issue 26 saw RSS grow 231 MB with
// 21k of them), so 4096 of them ~45 MB.
// 256 per address leaves room for an office or a campus behind one NAT
// address, and makes one host need 16 addresses to fill the total, which
// it cannot hold against others anyway (connlimit closes the biggest
// holder's idle connections first). Clients behind a reverse proxy on
// the same machine all come from one address (loopback) and share the
// per-address cap: there, raise it to the total.
const (
	defaultMaxConnections           = 4096
	defaultMaxConnectionsPerAddress = 256
	// filesReserved are the descriptors kept for what is not a client's
	// connection: the database, the Docker or Kubernetes client's
	// connections, log files, pooled connections to agents.
	filesReserved = 256
)

// validateConnections fills in the connection caps' defaults and checks
// them against each other and the open-file limit (files; 0: unknown).
// Each client connection may hold a second descriptor (the agent's
// connection it is proxied to, a Docker stream), so the limit carries
// (files-filesReserved)/2 of them: the default is lowered to that, and a
// setting above it refused, rather than left to fail at accept(2) with
// "too many open files", which nothing would log.
func (c *Config) validateConnections(files int) error {
	if c.MaxConnections < 0 || c.MaxConnectionsPerAddress < 0 {
		return fmt.Errorf("WARDER_MAX_CONNECTIONS and WARDER_MAX_CONNECTIONS_PER_ADDRESS must not be negative (0 means the default)")
	}
	carried := 0
	if files > 0 {
		carried = max((files-filesReserved)/2, 1)
	}
	switch {
	case c.MaxConnections == 0 && carried > 0:
		c.MaxConnections = min(defaultMaxConnections, carried)
	case c.MaxConnections == 0:
		c.MaxConnections = defaultMaxConnections
	case carried > 0 && c.MaxConnections > carried:
		return fmt.Errorf("WARDER_MAX_CONNECTIONS %d is more than the open-file limit (%d) carries, %d (two descriptors per connection and %d for the rest): raise the limit (ulimit -n, systemd's LimitNOFILE=) or lower the setting",
			c.MaxConnections, files, carried, filesReserved)
	}
	switch {
	case c.MaxConnectionsPerAddress == 0:
		c.MaxConnectionsPerAddress = min(defaultMaxConnectionsPerAddress, c.MaxConnections)
	case c.MaxConnectionsPerAddress > c.MaxConnections:
		return fmt.Errorf("WARDER_MAX_CONNECTIONS_PER_ADDRESS %d is more than WARDER_MAX_CONNECTIONS %d", c.MaxConnectionsPerAddress, c.MaxConnections)
	}
	return nil
}
