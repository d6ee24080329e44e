package bench

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	osdk "github.com/alibaba/OpenSandbox/sdks/sandbox/go"

	"github.com/warder/warder/client"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/wire"
)

// BenchmarkOpenSandboxSDK measures OpenSandbox's Go SDK (v1.2.1) driving
// Warder on Docker, beside the same work through Warder's own API, pair
// by pair on one server (20 pairs, or WARDER_BENCH_STARTS), alternating
// which side goes first:
//
//   - create-to-ready: the SDK's CreateSandbox (create, wait for Running,
//     resolve execd's endpoint, ping it) against POST /api/agents and
//     POST /api/agents/{id}/start;
//   - command round trip: the SDK's RunCommand("echo hi") through execd
//     against POST /api/agents/{id}/exec of sh -c "echo hi", each read to
//     its end.
//
// Each side's agent is deleted after its pair (not timed).
//
//	go test -run '^$' -bench BenchmarkOpenSandboxSDK -benchtime 1x -timeout 30m ./bench/
func BenchmarkOpenSandboxSDK(b *testing.B) {
	n := benchStarts(20)
	ts := e2etest.NewServer(b, nil)
	bc := benchLogin(b, ts.URL)
	ctx := context.Background()
	cfg := osdk.ConnectionConfig{Domain: ts.URL + "/api/opensandbox", APIKey: bc.token, RequestTimeout: time.Minute, DisableMetrics: true}
	wc := client.New(ts.URL, bc.token, client.WithHTTPClient(&http.Client{}))
	limits := osdk.ResourceLimits{"cpu": "250m", "memory": "32Mi"}
	echo := wire.ExecRequest{Cmd: []string{"sh", "-c", "echo hi"}}

	var sdkReady, apiReady, sdkCmd, apiCmd, readyRatio, cmdRatio []float64
	for i := -1; i < n; i++ { // i == -1 warms both paths up, untimed
		var dSDKReady, dAPIReady, dSDKCmd, dAPICmd time.Duration
		sdkSide := func() {
			t0 := time.Now()
			sb, err := osdk.CreateSandbox(ctx, cfg, osdk.SandboxCreateOptions{Image: ts.Config.Image, ResourceLimits: limits, HealthCheckInterval: 20 * time.Millisecond})
			if err != nil {
				b.Fatalf("CreateSandbox: %v", err)
			}
			dSDKReady = time.Since(t0)
			t0 = time.Now()
			ex, err := sb.RunCommand(ctx, "echo hi", nil)
			dSDKCmd = time.Since(t0)
			if err != nil || ex.Text() != "hi\n" {
				b.Fatalf("RunCommand: %v %q", err, ex.Text())
			}
			if err := sb.Kill(ctx); err != nil {
				b.Fatal(err)
			}
		}
		apiSide := func() {
			t0 := time.Now()
			a, err := wc.CreateAgent(ctx, wire.AgentCreate{Name: fmt.Sprintf("api-%d", i), ContainerConfig: wire.ContainerConfig{MemoryLimit: "32m", CPULimit: 0.25}})
			if err == nil {
				_, err = wc.StartAgent(ctx, a.ID)
			}
			if err != nil {
				b.Fatalf("create and start: %v", err)
			}
			dAPIReady = time.Since(t0)
			t0 = time.Now()
			out := ""
			res, err := wc.Exec(ctx, a.ID, echo, func(_, data string) error { out += data; return nil })
			dAPICmd = time.Since(t0)
			if err != nil || res.ExitCode != 0 || out != "hi\n" {
				b.Fatalf("exec: %v %+v %q", err, res, out)
			}
			if err := wc.DeleteAgent(ctx, a.ID); err != nil {
				b.Fatal(err)
			}
		}
		if i%2 == 0 {
			sdkSide()
			apiSide()
		} else {
			apiSide()
			sdkSide()
		}
		if i < 0 {
			continue
		}
		sdkReady, apiReady = append(sdkReady, ms(dSDKReady)), append(apiReady, ms(dAPIReady))
		sdkCmd, apiCmd = append(sdkCmd, ms(dSDKCmd)), append(apiCmd, ms(dAPICmd))
		readyRatio = append(readyRatio, ms(dSDKReady)/ms(dAPIReady))
		cmdRatio = append(cmdRatio, ms(dSDKCmd)/ms(dAPICmd))
	}
	b.ReportMetric(pct(sdkReady, 0.50), "sdk-ready-p50-ms")
	b.ReportMetric(pct(apiReady, 0.50), "api-ready-p50-ms")
	b.ReportMetric(pct(readyRatio, 0.50), "ready-ratio-p50")
	b.ReportMetric(pct(sdkCmd, 0.50), "sdk-cmd-p50-ms")
	b.ReportMetric(pct(apiCmd, 0.50), "api-cmd-p50-ms")
	b.ReportMetric(pct(cmdRatio, 0.50), "cmd-ratio-p50")
	b.ReportMetric(pct(sdkReady, 0.95), "sdk-ready-p95-ms")
	b.ReportMetric(pct(sdkCmd, 0.95), "sdk-cmd-p95-ms")
}
