// Package testenv gives tests access to the outside services Warder's
// integration tests run against, and skips those tests when a service is
// missing.
//
// Each service has a helper named after it (Docker, and later Postgres, ...)
// that skips the calling test when the service cannot be reached. Setting
// WARDER_REQUIRE_<THING>=1 (WARDER_REQUIRE_DOCKER, WARDER_REQUIRE_POSTGRES,
// ...) turns that skip into a failure, so CI that is meant to have the
// service notices when it silently does not.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// pingTimeout bounds how long a test waits to learn that a service is down.
const pingTimeout = 3 * time.Second

// Docker skips tb unless the Docker engine named by DOCKER_HOST (or the
// default socket) answers a ping. With WARDER_REQUIRE_DOCKER=1 an
// unreachable engine fails tb instead.
func Docker(tb testing.TB) {
	tb.Helper()
	err := pingDocker()
	if err == nil {
		return
	}
	SkipOrFail(tb, "WARDER_REQUIRE_DOCKER", "Docker is unreachable: %v", err)
}

// SkipOrFail skips tb, saying why, unless the variable require is "1"
// (as .ci/run sets it): then it fails tb, so a test CI means to run never
// skips unnoticed. For any condition a test needs of its service (an
// engine on this machine, say), not only the service answering.
func SkipOrFail(tb testing.TB, require, format string, args ...any) {
	tb.Helper()
	why := fmt.Sprintf(format, args...)
	if os.Getenv(require) == "1" {
		tb.Fatalf("%s (%s=1 requires it)", why, require)
	}
	tb.Skipf("%s (set %s=1 to fail instead)", why, require)
}

func pingDocker() error {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	_, err = cli.Ping(ctx, client.PingOptions{})
	return err
}

// UniqueName returns prefix followed by 12 random hex digits, for names of
// objects a test creates (containers, networks, image tags), so parallel
// runs never collide and cleanup can remove exactly what the test made.
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b)
}
