package testenv

import (
	"net/http"
	"os"
	"testing"
)

// TestS3ServerCleansUp: the server answers while its test runs, and is
// gone, with its directory and sockets, once the test has ended.
func TestS3ServerCleansUp(t *testing.T) {
	var s *S3Server
	t.Run("uses", func(t *testing.T) {
		s = NewS3Server(t)
		resp, err := http.Get(s.Endpoint + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz: %s", resp.Status)
		}
		if len(s.sockets) != 4 {
			t.Fatalf("sockets: %v", s.sockets)
		}
	})
	if s == nil {
		return // skipped
	}
	select {
	case <-s.exited:
	default:
		t.Fatal("weed still runs after its test ended")
	}
	for _, p := range append([]string{s.dir}, s.sockets...) {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind (%v)", p, err)
		}
	}
}
