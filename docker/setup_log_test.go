package docker

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder/internal/testkit/testenv"
)

// lockedBuffer is a log sink safe for the handler's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSetupSaysWhatItBuilds: a Setup that builds the missing agent image
// says so at info level as it goes (missing, the binary, each of the
// build's steps, built), so a first `warder serve` is not silent for
// minutes; a Setup that finds the image says nothing of building.
func TestSetupSaysWhatItBuilds(t *testing.T) {
	testenv.Docker(t)
	var logs lockedBuffer
	r := newRuntime(t, func(c *Config) {
		c.DefaultImage = "warder-test/agent:" + testenv.UniqueName("setup-log-")
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := r.RemoveImage(ctx, r.cfg.DefaultImage); err != nil {
			t.Errorf("cleanup: remove image %s: %v", r.cfg.DefaultImage, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Setup(ctx); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	got := logs.String()
	want := []string{
		`level=INFO msg="the agent image is missing: building it" image=` + r.cfg.DefaultImage,
		`msg="getting the warder-agent binary`,
		`msg="building the agent image" image=` + r.cfg.DefaultImage + ` binary=`,
		`msg="building the agent image" image=` + r.cfg.DefaultImage + ` step="Step 1/7 : FROM scratch"`,
		`step="Step 7/7 : ENTRYPOINT [\"/warder-agent\"]"`,
		`msg="agent image built" image=` + r.cfg.DefaultImage + ` took=`,
	}
	at := 0
	for _, w := range want {
		i := strings.Index(got[at:], w)
		if i < 0 {
			t.Fatalf("the log lacks %s after its first %d bytes:\n%s", w, at, got)
		}
		at += i + len(w)
	}
	if n := len(regexp.MustCompile(`step="Step \d/7 `).FindAllString(got, -1)); n != 7 {
		t.Errorf("%d steps logged, want 7:\n%s", n, got)
	}

	before := len(logs.String())
	if err := r.Setup(ctx); err != nil {
		t.Fatalf("second Setup: %v", err)
	}
	if again := logs.String()[before:]; strings.Contains(again, "building") {
		t.Errorf("a Setup that finds the image logs a build:\n%s", again)
	}
}
