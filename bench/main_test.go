// Package bench holds Warder's benchmarks, which are not part of the
// tests: each runs a real Warder (in-process, or as the warder binary) on
// the real Docker engine. docs/benchmarks.md gives each one's command,
// the machine and the results.
package bench

import (
	"testing"

	"github.com/warder/warder/internal/testkit/e2etest"
)

func TestMain(m *testing.M) { e2etest.Main(m) }
