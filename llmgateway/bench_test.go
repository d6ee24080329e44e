package llmgateway

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkGatewayVsDirect measures, side by side in one run against one
// local OpenAI-compatible upstream, what the gateway adds to calling the
// upstream directly: the p50 latency of a non-streamed chat, the delay of
// a stream's first byte, and the throughput of 64 concurrent streams.
// Run it once, on a quiet machine:
//
//	go test -run '^$' -bench BenchmarkGatewayVsDirect -benchtime 1x ./llmgateway
//
// Targets (issue 29): added p50 < 1 ms, first byte delayed < 2 ms,
// throughput >= 0.9x direct.
func BenchmarkGatewayVsDirect(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(benchUpstream))
	defer up.Close()
	ledger := NewMemLedger(Budget{}, Budget{})
	g, err := New(Config{
		Upstreams: []Upstream{{Name: "bench", BaseURL: up.URL + "/v1", Key: "sk-bench"}},
		Tokens:    tokens{"t1": {"a1", "u1"}},
		Ledger:    ledger,
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	gw := httptest.NewServer(g)
	defer gw.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	targets := map[string]string{"direct": up.URL, "gateway": gw.URL}
	call := func(which string, stream bool) (first, total time.Duration, n int64) {
		body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
		if stream {
			body = `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		}
		req, _ := http.NewRequest("POST", targets[which]+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer t1")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 32<<10)
		k, err := resp.Body.Read(buf)
		first = time.Since(start)
		n = int64(k)
		for err == nil {
			k, err = resp.Body.Read(buf)
			n += int64(k)
		}
		if err != io.EOF || resp.StatusCode != 200 {
			b.Fatalf("%s: %d %v", which, resp.StatusCode, err)
		}
		return first, time.Since(start), n
	}
	for b.Loop() {
		// Warm both paths' connections.
		for range 200 {
			call("direct", false)
			call("gateway", false)
		}
		lat := map[string][]time.Duration{}
		fb := map[string][]time.Duration{}
		for range 2000 { // interleaved, so drift in the machine hits both alike
			for _, w := range []string{"direct", "gateway"} {
				_, d, _ := call(w, false)
				lat[w] = append(lat[w], d)
			}
		}
		for range 500 {
			for _, w := range []string{"direct", "gateway"} {
				f, _, _ := call(w, true)
				fb[w] = append(fb[w], f)
			}
		}
		tput, paced := map[string]float64{}, map[string]float64{}
		for _, w := range []string{"direct", "gateway"} {
			tput[w] = concurrentStreams(w, call, 64, 2*time.Second)
		}
		pace.Store(true) // a chunk a millisecond: faster than any model, slower than the CPU
		for _, w := range []string{"direct", "gateway"} {
			paced[w] = concurrentStreams(w, call, 64, 2*time.Second)
		}
		pace.Store(false)
		p50 := func(d []time.Duration) float64 {
			slices.Sort(d)
			return float64(d[len(d)/2].Microseconds())
		}
		b.ReportMetric(p50(lat["direct"]), "direct-p50-us")
		b.ReportMetric(p50(lat["gateway"]), "gateway-p50-us")
		b.ReportMetric(p50(lat["gateway"])-p50(lat["direct"]), "added-p50-us")
		b.ReportMetric(p50(fb["direct"]), "direct-first-byte-p50-us")
		b.ReportMetric(p50(fb["gateway"]), "gateway-first-byte-p50-us")
		b.ReportMetric(p50(fb["gateway"])-p50(fb["direct"]), "added-first-byte-p50-us")
		b.ReportMetric(tput["direct"]/1e6, "direct-64streams-MB/s")
		b.ReportMetric(tput["gateway"]/1e6, "gateway-64streams-MB/s")
		b.ReportMetric(tput["gateway"]/tput["direct"], "throughput-ratio")
		b.ReportMetric(paced["gateway"]/paced["direct"], "paced-throughput-ratio")
	}
}

// concurrentStreams runs n streaming callers for d and returns the bytes
// per second they received in all.
func concurrentStreams(which string, call func(string, bool) (time.Duration, time.Duration, int64), n int, d time.Duration) float64 {
	var mu sync.Mutex
	var total int64
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d {
				_, _, k := call(which, true)
				mu.Lock()
				total += k
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds()
}

// pace makes benchUpstream wait a millisecond between stream chunks.
var pace atomic.Bool

// benchUpstream answers at once: a small completion, or a stream of 200
// chunks of about 100 bytes, flushed each, then usage and [DONE].
func benchUpstream(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	usage := `{"prompt_tokens":10,"completion_tokens":200,"total_tokens":210}`
	if !strings.Contains(string(body), `"stream":true`) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"x","object":"chat.completion","model":"m","choices":[{"message":{"role":"assistant","content":"hello"}}],"usage":%s}`, usage)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	withUsage := strings.Contains(string(body), `"include_usage":true`)
	for i := range 200 {
		fmt.Fprintf(w, "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"token %03d of the answer, padded\"}}],\"usage\":null}\n\n", i)
		_ = rc.Flush()
		if pace.Load() {
			time.Sleep(time.Millisecond)
		}
	}
	if withUsage {
		fmt.Fprintf(w, "data: {\"model\":\"m\",\"choices\":[],\"usage\":%s}\n\n", usage)
	}
	io.WriteString(w, "data: [DONE]\n\n")
}
