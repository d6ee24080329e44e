// Package agentbin builds warder-agent, the program the default agent
// image runs. It is a Go build, not a container runtime's concern: any
// runtime that makes the default image takes the binary it returns.
package agentbin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// agentPackage is the program the default agent image runs.
const agentPackage = "github.com/warder/warder/cmd/warder-agent"

// Build compiles warder-agent as a static Linux binary (CGO_ENABLED=0, as
// the image is FROM scratch) into outDir and returns its path. It runs
// `go build`, so it needs the go tool and this module's source: it works
// from inside the repository (tests, `go run`), not from an installed
// warder binary.
func Build(ctx context.Context, outDir string) (string, error) {
	out, err := filepath.Abs(filepath.Join(outDir, "warder-agent"))
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, agentPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s (this needs the go tool and the warder source tree): %w\n%s", agentPackage, err, msg)
	}
	return out, nil
}
