// Package e2e holds the end-to-end tests: a real Warder (internal/app, as
// cmd/warder wires it) on the real Docker engine and real PostgreSQL,
// driven over HTTP, in files named by feature. What needs no engine is
// tested in api/ and service/.
//
// Each test has a server, a network and host ports of its own, so tests
// run in parallel, except those that measure how soon something happens,
// look at the whole process (goroutines, allocations) or load the machine
// with dozens of containers: they run alone, before the parallel ones.
package e2e

import (
	"testing"

	"github.com/warder/warder/internal/testkit/e2etest"
)

func TestMain(m *testing.M) { e2etest.Main(m) }
