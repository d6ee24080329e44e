// Package wire is the API's JSON: every body Warder's HTTP API reads or
// writes (agents, users, keys, files, chat, the envelopes and the events
// of its streams), as Go types with their JSON tags. Package api writes
// and reads them, package client reads and writes them, and neither
// imports the other, so the server and its Go client share one set of
// shapes and cannot drift apart.
//
// It imports nothing of Warder's: a program using the client gets these
// types and the standard library, not the server's runtime contract or
// store. The server's root package names the same types (type Agent =
// wire.Agent), and gives the request bodies its checks as types of the
// same fields (type AgentCreate wire.AgentCreate, with Validate). Fields
// tagged json:"-" are the server's (a password hash, sealed secrets) and
// are never sent. See docs/architecture.md, "Wire types".
package wire
