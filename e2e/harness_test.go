package e2e

import (
	"testing"

	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
)

// testServer is a real Warder on Docker (e2etest.NewServer) that the
// tests' clients talk to.
type testServer struct{ *apitest.Server }

// newTestServer starts Warder on a fresh SQLite database and a network of
// its own; change adjusts the configuration first. Every container and the
// network it made are removed by exact name when the test ends.
func newTestServer(t testing.TB, change func(*app.Config)) *testServer {
	t.Helper()
	return &testServer{e2etest.NewServer(t, change)}
}

// testImage is the test agent image and the binary in it, built once.
func testImage(t testing.TB) (image, binary string) {
	t.Helper()
	return e2etest.AgentImage(t)
}

// register creates a user on the test server and logs in.
func (ts *testServer) register(t *testing.T, name string) *apitest.Client {
	t.Helper()
	return apitest.Register(t, ts.URL, name)
}
