package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the path of a Chromium (or Chrome) binary for browser
// tests: $WARDER_CHROMIUM, else the first of chromium, chromium-browser
// and google-chrome on $PATH. Without one tb is skipped; with
// WARDER_REQUIRE_BROWSER=1 it fails instead (.ci/run installs Debian's
// chromium and sets it).
func Chromium(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("WARDER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("WARDER_REQUIRE_BROWSER") == "1" {
		tb.Fatal("Chromium is required (WARDER_REQUIRE_BROWSER=1) but not installed: apt-get install chromium")
	}
	tb.Skip("Chromium is not installed (apt-get install chromium; set WARDER_REQUIRE_BROWSER=1 to fail instead)")
	return ""
}
