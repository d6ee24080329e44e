package llmgateway

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a forwarding goroutine or timer outlives
// its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"), goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))
}
