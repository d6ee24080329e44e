package egress

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warder/warder"
)

// agents is a fixed table of grants.
type agents map[string]Grant

func (a agents) EgressGrant(_ context.Context, agent string) (Grant, error) {
	g, ok := a[agent]
	if !ok {
		return Grant{}, warder.Errorf(warder.ErrNotFound, "no agent %q", agent)
	}
	return g, nil
}

// resolver maps names to answers, taken in turn (the last one repeats),
// and counts lookups: no real DNS is ever asked.
type resolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	lookups map[string]int
}

func newResolver() *resolver {
	return &resolver{answers: map[string][][]netip.Addr{}, lookups: map[string]int{}}
}

// set makes name answer each of answers in turn (each a comma-separated
// list of addresses).
func (r *resolver) set(name string, answers ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers[name] = nil
	for _, a := range answers {
		var list []netip.Addr
		for _, s := range strings.Split(a, ",") {
			list = append(list, netip.MustParseAddr(s))
		}
		r.answers[name] = append(r.answers[name], list)
	}
}

func (r *resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.lookups[host]
	r.lookups[host]++
	as := r.answers[host]
	if len(as) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return as[min(n, len(as)-1)], nil
}

func (r *resolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookups[host]
}

// rig is a proxy on loopback with one agent, "a1", whose token is
// "secret", and what it dialed.
type rig struct {
	t      testing.TB
	proxy  *Proxy
	url    *url.URL // the proxy, with a1's credentials
	res    *resolver
	mu     sync.Mutex
	dialed []string
	sums   chan []RefusalSummary
}

// newRig starts a proxy serving policy to agent a1; tweak adjusts the
// config before the proxy is made.
func newRig(t testing.TB, policy Policy, tweak func(*Config)) *rig {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return newRigListener(t, ln, policy, tweak)
}

// newRigListener is newRig serving on ln.
func newRigListener(t testing.TB, ln net.Listener, policy Policy, tweak func(*Config)) *rig {
	t.Helper()
	rg := &rig{t: t, res: newResolver(), sums: make(chan []RefusalSummary, 16)}
	d := &net.Dialer{}
	cfg := Config{
		Agents:   agents{"a1": {Agent: "a1", TokenHash: HashToken("secret"), Policy: policy}},
		Resolver: rg.res,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			rg.mu.Lock()
			rg.dialed = append(rg.dialed, addr)
			rg.mu.Unlock()
			return d.DialContext(ctx, network, addr)
		},
		Summary:      func(s []RefusalSummary) { rg.sums <- s },
		SummaryEvery: 50 * time.Millisecond,
		Log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rg.proxy = p
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	rg.url = &url.URL{Scheme: "http", Host: ln.Addr().String(), User: url.UserPassword("a1", "secret")}
	return rg
}

// client is an HTTP client going through the proxy as user (nil: none).
func (rg *rig) client(user *url.Userinfo) *http.Client {
	u := *rg.url
	u.User = user
	return &http.Client{
		Transport: &http.Transport{
			Proxy:             http.ProxyURL(&u),
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
		},
		Timeout: 10 * time.Second,
	}
}

func (rg *rig) dials() []string {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	return append([]string(nil), rg.dialed...)
}

// upstream is a stand-in server on a loopback address, counting what it
// is asked.
type upstream struct {
	*httptest.Server
	hits atomic.Int64
	port uint16
}

// newUpstream starts an HTTP (or, with tlsOn, HTTPS) server on ip:port
// (port 0: any) answering "hello from <ip>".
func newUpstream(t *testing.T, ip string, port uint16, tlsOn bool, h http.HandlerFunc) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(port)))
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello from %s for %s", ip, r.Host) }
	}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		h(w, r)
	}))
	u.Listener.Close()
	u.Listener = ln
	u.Config.ErrorLog = log.New(io.Discard, "", 0) // a refused handshake is expected
	if tlsOn {
		u.StartTLS()
	} else {
		u.Start()
	}
	t.Cleanup(u.Close)
	u.port = uint16(ln.Addr().(*net.TCPAddr).Port)
	return u
}

func get(t *testing.T, c *http.Client, rawURL string) (int, string) {
	t.Helper()
	resp, err := c.Get(rawURL)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// connectRaw opens a CONNECT tunnel by hand and returns the connection
// after a 200, or the status line.
func (rg *rig) connectRaw(hostport string) (net.Conn, string) {
	rg.t.Helper()
	c, err := net.Dial("tcp", rg.url.Host)
	if err != nil {
		rg.t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic YTE6c2VjcmV0\r\n\r\n", hostport, hostport)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := readHead(c)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		c.Close()
		if err != nil {
			return nil, err.Error()
		}
		return nil, line
	}
	return c, line
}

// readHead reads a response head byte by byte (so nothing past it is
// consumed) and returns its status line.
func readHead(c net.Conn) (string, error) {
	var head []byte
	b := make([]byte, 1)
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		if _, err := c.Read(b); err != nil {
			return string(head), err
		}
		head = append(head, b[0])
	}
	return strings.SplitN(string(head), "\r\n", 2)[0], nil
}

// waitSummary waits for a summary holding a row for dest and reason.
func (rg *rig) waitSummary(dest string, reason Reason) RefusalSummary {
	rg.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case sums := <-rg.sums:
			for _, s := range sums {
				if s.Destination == dest && s.Reason == reason {
					return s
				}
			}
		case <-deadline:
			rg.t.Fatalf("no summary for %s %s", dest, reason)
		}
	}
}

// hangingResolver never answers before its context ends.
type hangingResolver struct{}

func (hangingResolver) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
