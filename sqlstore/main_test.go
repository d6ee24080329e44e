package sqlstore

import (
	"os"
	"testing"

	"github.com/warder/warder/internal/testkit/testenv"
)

// TestMain stops the PostgreSQL cluster testenv.Postgres may have started.
func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}
