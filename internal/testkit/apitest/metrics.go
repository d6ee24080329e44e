package apitest

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// Scrape returns the /metrics of the Warder at base.
func Scrape(t testing.TB, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// Metric returns the value of one series in a scrape (series as written
// there, labels sorted by name), or -1 when it is absent.
func Metric(scrape, series string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(scrape)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// WaitMetric polls the /metrics of the Warder at base until series has
// value want.
func WaitMetric(t *testing.T, base, series string, want float64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := Metric(Scrape(t, base), series)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after %s, want %v", series, got, within, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
