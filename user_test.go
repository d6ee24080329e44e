package warder_test

import (
	"testing"

	"github.com/warder/warder"
)

func TestRegisterValidate(t *testing.T) {
	tests := []struct {
		req warder.RegisterRequest
		ok  bool
	}{
		{warder.RegisterRequest{"alice", "alice@example.com", "correct horse"}, true},
		{warder.RegisterRequest{"al", "alice@example.com", "correct horse"}, false},
		{warder.RegisterRequest{"alice smith", "alice@example.com", "correct horse"}, false},
		{warder.RegisterRequest{"alice", "not-an-email", "correct horse"}, false},
		{warder.RegisterRequest{"alice", "Alice <alice@example.com>", "correct horse"}, false},
		{warder.RegisterRequest{"alice", "alice@example.com", "short"}, false},
	}
	for _, tt := range tests {
		err := tt.req.Validate()
		if tt.ok != (err == nil) {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tt.req, err, tt.ok)
		}
	}
}
