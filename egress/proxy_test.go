package egress

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestProxyHTTP(t *testing.T) {
	up := newUpstream(t, "127.0.0.2", 0, false, nil)
	private := newUpstream(t, "127.0.0.3", 0, false, nil)
	port := up.port
	pol := MustParse("allowed.test", fmt.Sprintf("*.wild.test:%d", port), "private.test", "nowhere.test", "127.0.0.2")
	rg := newRig(t, pol, nil)
	for _, name := range []string{"allowed.test", "a.wild.test", "b.c.wild.test", "wild.test", "other.test"} {
		rg.res.set(name, "127.0.0.2")
	}
	rg.res.set("private.test", "127.0.0.3")
	c := rg.client(rg.url.User)
	for _, tc := range []struct {
		url    string
		status int
		body   string
	}{
		{fmt.Sprintf("http://allowed.test:%d/x", port), 200, "hello from 127.0.0.2 for allowed.test:"},
		{fmt.Sprintf("http://ALLOWED.test.:%d/x", port), 200, "hello from 127.0.0.2"},
		{fmt.Sprintf("http://a.wild.test:%d/", port), 200, "hello from 127.0.0.2"},
		{fmt.Sprintf("http://b.c.wild.test:%d/", port), 200, "hello from 127.0.0.2"},
		{fmt.Sprintf("http://127.0.0.2:%d/", port), 200, "hello from 127.0.0.2"},
		{fmt.Sprintf("http://wild.test:%d/", port), 403, "wild.test:" + fmt.Sprint(port) + " is not in this agent's egress list"},
		{fmt.Sprintf("http://other.test:%d/", port), 403, "not in this agent's egress list"},
		{fmt.Sprintf("http://127.0.0.3:%d/", private.port), 403, "not in this agent's egress list"},
		{fmt.Sprintf("http://private.test:%d/", private.port), 403, "private.test resolves to 127.0.0.3 is a loopback address"},
		{"http://nowhere.test/", 502, "nowhere.test does not resolve"},
		{"https://allowed.test:1/", 0, ""}, // CONNECT, dial refused: the client sees an error
	} {
		status, body := get(t, c, tc.url)
		if status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("GET %s = %d %q, want %d with %q", tc.url, status, body, tc.status, tc.body)
		}
	}
	if n := private.hits.Load(); n != 0 {
		t.Errorf("the unlisted private upstream was reached %d times", n)
	}
	if n := up.hits.Load(); n != 5 {
		t.Errorf("the allowed upstream got %d requests, want 5", n)
	}
	st := rg.proxy.Stats()
	if st.Refused[ReasonNotListed] != 3 || st.Refused[ReasonAddress] != 1 || st.Refused[ReasonUnresolvable] != 1 || st.Allowed != 5 {
		t.Errorf("stats: %+v", st)
	}
	s := rg.waitSummary(fmt.Sprintf("other.test:%d", port), ReasonNotListed)
	if s.Agent != "a1" || s.Count != 1 {
		t.Errorf("summary row: %+v", s)
	}
}

func TestProxyCredentials(t *testing.T) {
	up := newUpstream(t, "127.0.0.2", 0, false, nil)
	rg := newRig(t, MustParse("allowed.test", "127.0.0.2"), nil)
	rg.res.set("allowed.test", "127.0.0.2")
	u := fmt.Sprintf("http://allowed.test:%d/", up.port)
	for _, user := range []*url.Userinfo{nil, url.UserPassword("a1", "wrong"), url.UserPassword("a2", "secret"), url.User("a1")} {
		if status, _ := get(t, rg.client(user), u); status != http.StatusProxyAuthRequired {
			t.Errorf("as %v: %d, want 407", user, status)
		}
	}
	// Four refusals of one destination are one summary row.
	if s := rg.waitSummary(fmt.Sprintf("allowed.test:%d", up.port), ReasonUnauthenticated); s.Count != 4 || s.Agent != "" {
		t.Errorf("summary row: %+v", s)
	}
	// An origin-form request is no proxy request.
	req, _ := http.NewRequest("GET", "http://"+rg.url.Host+"/", nil)
	req.Header.Set("Proxy-Authorization", "Basic YTE6c2VjcmV0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("origin-form request: %d, want 400", resp.StatusCode)
	}
	if up.hits.Load() != 0 {
		t.Error("the upstream was reached without credentials")
	}
}

func TestProxyConnectSNI(t *testing.T) {
	up := newUpstream(t, "127.0.0.2", 0, true, nil)
	pol := MustParse("allowed.test", "127.0.0.2")
	rg := newRig(t, pol, func(c *Config) { c.SNIPorts = []uint16{up.port} })
	rg.res.set("allowed.test", "127.0.0.2")
	rg.res.set("evil.test", "127.0.0.2")
	target := fmt.Sprintf("allowed.test:%d", up.port)

	// Through Go's client: CONNECT, then TLS with the same name.
	if status, body := get(t, rg.client(rg.url.User), "https://"+target+"/"); status != 200 || !strings.Contains(body, "hello from 127.0.0.2") {
		t.Fatalf("https through the proxy: %d %q", status, body)
	}
	handshake := func(sni string) error {
		c, line := rg.connectRaw(target)
		if c == nil {
			t.Fatalf("CONNECT %s: %s", target, line)
		}
		defer c.Close()
		tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		return tc.Handshake()
	}
	if err := handshake("ALLOWED.test"); err != nil {
		t.Errorf("matching SNI: %v", err)
	}
	if err := handshake(""); err != nil { // no SNI at all: nothing to compare
		t.Errorf("no SNI: %v", err)
	}
	before := up.hits.Load()
	if err := handshake("evil.test"); err == nil {
		t.Error("a ClientHello naming another host went through")
	}
	if up.hits.Load() != before {
		t.Error("the upstream saw a request after a mismatched SNI")
	}
	if n := rg.proxy.Stats().Refused[ReasonSNI]; n != 1 {
		t.Errorf("sni refusals: %d, want 1", n)
	}
	rg.waitSummary(target, ReasonSNI)

	// Plain bytes on an SNI port pass as they are (the check is on a
	// ClientHello when there is one).
	plain := newUpstream(t, "127.0.0.2", 0, false, nil)
	rg2 := newRig(t, MustParse("127.0.0.2"), func(c *Config) { c.SNIPorts = []uint16{plain.port} })
	c, line := rg2.connectRaw(fmt.Sprintf("127.0.0.2:%d", plain.port))
	if c == nil {
		t.Fatal(line)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(c)
	if !strings.Contains(string(b), "hello from 127.0.0.2") {
		t.Errorf("plain HTTP on an SNI port: %q", b)
	}
}

func TestProxyRebinding(t *testing.T) {
	a := newUpstream(t, "127.0.0.2", 0, false, nil)
	var b *upstream
	for i := 0; b == nil && i < 5; i++ { // the same port on another address
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.3:%d", a.port))
		if err == nil {
			ln.Close()
			b = newUpstream(t, "127.0.0.3", a.port, false, nil)
		}
	}
	if b == nil {
		t.Skip("port taken on 127.0.0.3")
	}
	rg := newRig(t, MustParse("rebind.test", "mixed.test", "127.0.0.2"), nil)
	c := rg.client(rg.url.User)
	// First answer allowed, later ones not: the request goes where the
	// check was made, and the name is looked up once.
	rg.res.set("rebind.test", "127.0.0.2", "127.0.0.3")
	if status, body := get(t, c, fmt.Sprintf("http://rebind.test:%d/", a.port)); status != 200 || !strings.Contains(body, "127.0.0.2") {
		t.Fatalf("first: %d %q", status, body)
	}
	if n := rg.res.count("rebind.test"); n != 1 {
		t.Errorf("looked up %d times for one request", n)
	}
	if status, _ := get(t, c, fmt.Sprintf("http://rebind.test:%d/", a.port)); status != 403 {
		t.Errorf("second (now loopback 127.0.0.3): %d, want 403", status)
	}
	// An answer with one allowed and one refused address: only the
	// allowed one is dialed.
	rg.res.set("mixed.test", "127.0.0.3,127.0.0.2")
	if status, body := get(t, c, fmt.Sprintf("http://mixed.test:%d/", a.port)); status != 200 || !strings.Contains(body, "127.0.0.2") {
		t.Errorf("mixed: %d %q", status, body)
	}
	if b.hits.Load() != 0 {
		t.Errorf("the unchecked address was reached")
	}
	want := []string{fmt.Sprintf("127.0.0.2:%d", a.port), fmt.Sprintf("127.0.0.2:%d", a.port)}
	if got := rg.dials(); !slices.Equal(got, want) {
		t.Errorf("dialed %v, want %v", got, want)
	}
}

func TestProxyStreams(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, "127.0.0.2", 0, false, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	})
	rg := newRig(t, MustParse("127.0.0.2"), nil)
	resp, err := rg.client(rg.url.User).Get(fmt.Sprintf("http://127.0.0.2:%d/", up.port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line: %q %v", line, err)
	}
	close(release) // only now does the upstream finish: nothing was buffered whole
	line, err = br.ReadString('\n')
	if err != nil || line != "second\n" {
		t.Fatalf("second line: %q %v", line, err)
	}
}

func TestProxyLimits(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	target := echo.Addr().String()
	rg := newRig(t, MustParse("127.0.0.2"), func(c *Config) {
		c.MaxConnsPerAgent = 2
		c.IdleTimeout = 300 * time.Millisecond
		c.MaxHeaderBytes = 4 << 10
	})
	c1, line := rg.connectRaw(target)
	if c1 == nil {
		t.Fatal(line)
	}
	c2, line := rg.connectRaw(target)
	if c2 == nil {
		t.Fatal(line)
	}
	if c3, line := rg.connectRaw(target); c3 != nil || !strings.Contains(line, "429") {
		t.Errorf("third tunnel: %q, want 429", line)
	}
	// A tunnel in use stays open past the idle timeout; an idle one is
	// closed.
	buf := make([]byte, 4)
	for range 4 {
		time.Sleep(100 * time.Millisecond)
		fmt.Fprint(c1, "ping")
		_ = c1.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c1, buf); err != nil {
			t.Fatalf("a busy tunnel was closed: %v", err)
		}
	}
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c2.Read(buf); err != io.EOF {
		t.Errorf("idle tunnel read: %v, want EOF", err)
	}
	c1.Close()
	c2.Close()
	// The slots are free again once the tunnels are gone.
	deadline := time.Now().Add(5 * time.Second)
	for rg.proxy.Stats().Open != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c4, line := rg.connectRaw(target)
	if c4 == nil {
		t.Fatalf("after closing: %s", line)
	}
	c4.Close()

	// A request header over the bound is refused by the server.
	req, _ := http.NewRequest("GET", "http://"+target+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 8<<10))
	resp, err := rg.client(rg.url.User).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("big request header: %d, want 431", resp.StatusCode)
	}
}

func TestProxyUpstreamBounds(t *testing.T) {
	big := newUpstream(t, "127.0.0.2", 0, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("x", 16<<10))
	})
	hang := newUpstream(t, "127.0.0.2", 0, false, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	rg := newRig(t, MustParse("127.0.0.2", "slow.test"), func(c *Config) {
		c.MaxHeaderBytes = 4 << 10
		c.IdleTimeout = 300 * time.Millisecond
		c.DialTimeout = 300 * time.Millisecond
		c.Resolver = hangingResolver{}
	})
	c := rg.client(rg.url.User)
	if status, body := get(t, c, fmt.Sprintf("http://127.0.0.2:%d/", big.port)); status != 502 || !strings.Contains(body, "header is too large") {
		t.Errorf("big response header: %d %q", status, body)
	}
	start := time.Now()
	if status, _ := get(t, c, fmt.Sprintf("http://127.0.0.2:%d/", hang.port)); status != 502 || time.Since(start) > 5*time.Second {
		t.Errorf("hanging upstream: %d after %v", status, time.Since(start))
	}
	start = time.Now()
	if status, _ := get(t, c, "http://slow.test/"); status != 502 || time.Since(start) > 5*time.Second {
		t.Errorf("hanging resolver: %d after %v", status, time.Since(start))
	}
	if n := rg.proxy.Stats().UpstreamFailed; n != 3 {
		t.Errorf("upstream failures: %d, want 3", n)
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		def  uint16
		want string // "" for a refusal
	}{
		{"api.openai.com:443", 0, "api.openai.com:443"},
		{"API.OpenAI.com.:443", 0, "api.openai.com:443"},
		{"api.openai.com", 0, ""},
		{"api.openai.com", 80, "api.openai.com:80"},
		{"[2001:db8::1]:443", 0, "[2001:db8::1]:443"},
		{"[2001:db8::1]", 80, "[2001:db8::1]:80"},
		{"[::ffff:127.0.0.1]:80", 0, "127.0.0.1:80"},
		{"[fe80::1%25eth0]:80", 0, ""},
		{"host:0", 0, ""},
		{"host:99999", 0, ""},
		{"*.github.com:443", 0, ""},
		{"bad host:443", 0, ""},
		{"10.1:443", 0, ""},
	} {
		got, r := parseTarget(tc.in, tc.def)
		if (r == nil) != (tc.want != "") || r == nil && got.String() != tc.want {
			t.Errorf("parseTarget(%q) = %v, %v; want %q", tc.in, got, r, tc.want)
		}
	}
}

// TestProxyForwardsCleanly: what reaches the destination carries no
// proxy credentials and no hop-by-hop headers, and names the host of the
// URL (not a Host header of the client's).
func TestProxyForwardsCleanly(t *testing.T) {
	seen := make(chan http.Header, 1)
	hosts := make(chan string, 1)
	up := newUpstream(t, "127.0.0.2", 0, false, func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		hosts <- r.Host
		// By hand: Go's server would put its own Connection header.
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 200 OK\r\nConnection: X-Secret-Hop, close\r\nX-Secret-Hop: 1\r\nX-Kept: 1\r\nContent-Length: 2\r\n\r\nok")
		brw.Flush()
	})
	rg := newRig(t, MustParse("allowed.test", "127.0.0.2"), nil)
	rg.res.set("allowed.test", "127.0.0.2")
	// By hand: Go's client would put its Host into the request line.
	c, err := net.Dial("tcp", rg.url.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST http://allowed.test:%d/p HTTP/1.1\r\nHost: evil.test\r\nProxy-Authorization: Basic YTE6c2VjcmV0\r\n"+
		"Connection: X-Drop-Me\r\nX-Drop-Me: 1\r\nX-Keep: 1\r\nContent-Length: 4\r\n\r\nbody", up.port)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h := <-seen
	if h.Get("Proxy-Authorization") != "" || h.Get("X-Drop-Me") != "" || h.Get("X-Keep") != "1" {
		t.Errorf("headers upstream: %v", h)
	}
	if host := <-hosts; host != fmt.Sprintf("allowed.test:%d", up.port) {
		t.Errorf("Host upstream: %q", host)
	}
	if resp.Header.Get("X-Secret-Hop") != "" || resp.Header.Get("X-Kept") != "1" {
		t.Errorf("a hop-by-hop header of the response came back: %v", resp.Header)
	}
}

// TestProxyOrigin: with an Origin handler, origin-form requests go to it
// without proxy credentials, while proxy requests are still the proxy's.
func TestProxyOrigin(t *testing.T) {
	up := newUpstream(t, "127.0.0.2", 0, false, nil)
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "origin %s %s", r.Method, r.URL.Path)
	})
	rg := newRig(t, MustParse("allowed.test", "127.0.0.2"), func(c *Config) { c.Origin = origin })
	rg.res.set("allowed.test", "127.0.0.2")
	resp, err := http.Post("http://"+rg.url.Host+"/llm/v1/chat/completions", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "origin POST /llm/v1/chat/completions" {
		t.Errorf("origin-form request: %d %q", resp.StatusCode, body)
	}
	u := fmt.Sprintf("http://allowed.test:%d/", up.port)
	if status, _ := get(t, rg.client(nil), u); status != http.StatusProxyAuthRequired {
		t.Errorf("a proxy request without credentials: %d, want 407", status)
	}
	if up.hits.Load() != 0 {
		t.Error("the upstream was reached without credentials")
	}
}
