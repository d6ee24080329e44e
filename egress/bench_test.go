package egress

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkProxyConnect measures the latency the proxy adds to opening a
// connection: dial and one echoed byte, directly and through a CONNECT
// tunnel (a listed name, resolved by the proxy), side by side. Run it
// once, on a quiet machine:
//
//	go test -run '^$' -bench BenchmarkProxyConnect -benchtime 1x ./egress
//
// Target (issue 29): added connect latency under 2 ms.
func BenchmarkProxyConnect(b *testing.B) {
	echo, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		b.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	port := echo.Addr().(*net.TCPAddr).Port
	rg := newRig(b, MustParse("echo.test", "127.0.0.2"), nil)
	rg.res.set("echo.test", "127.0.0.2")
	roundTrip := func(c net.Conn) {
		buf := []byte{'x'}
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
	direct := func() time.Duration {
		start := time.Now()
		c, err := net.Dial("tcp", echo.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		roundTrip(c)
		d := time.Since(start)
		c.Close()
		return d
	}
	proxied := func() time.Duration {
		start := time.Now()
		c, line := rg.connectRaw(fmt.Sprintf("echo.test:%d", port))
		if c == nil || !strings.Contains(line, "200") {
			b.Fatalf("CONNECT: %s", line)
		}
		roundTrip(c)
		d := time.Since(start)
		c.Close()
		return d
	}
	for b.Loop() {
		var ds, ps []time.Duration
		for range 2000 {
			ds = append(ds, direct())
			ps = append(ps, proxied())
		}
		slices.Sort(ds)
		slices.Sort(ps)
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "direct-p50-us")
		b.ReportMetric(float64(ps[len(ps)/2].Microseconds()), "proxied-p50-us")
		b.ReportMetric(float64((ps[len(ps)/2] - ds[len(ds)/2]).Microseconds()), "added-p50-us")
	}
}
