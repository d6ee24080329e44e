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
		{warder.RegisterRequest{Username: "alice", Email: "alice@example.com", Password: "correct horse"}, true},
		{warder.RegisterRequest{Username: "al", Email: "alice@example.com", Password: "correct horse"}, false},
		{warder.RegisterRequest{Username: "alice smith", Email: "alice@example.com", Password: "correct horse"}, false},
		{warder.RegisterRequest{Username: "alice", Email: "not-an-email", Password: "correct horse"}, false},
		{warder.RegisterRequest{Username: "alice", Email: "Alice <alice@example.com>", Password: "correct horse"}, false},
		{warder.RegisterRequest{Username: "alice", Email: "alice@example.com", Password: "short"}, false},
		{warder.RegisterRequest{Username: "alice", Email: "alice@example.com", Password: "correct horse", FirstName: "Alice", LastName: "Smith"}, true},
		{warder.RegisterRequest{Username: "alice", Email: "alice@example.com", Password: "correct horse", FirstName: "A\x00"}, false},
	}
	for _, tt := range tests {
		err := tt.req.Validate()
		if tt.ok != (err == nil) {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tt.req, err, tt.ok)
		}
	}
}
