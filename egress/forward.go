package egress

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// hopHeaders are the hop-by-hop headers (RFC 9110 section 7.6.1), never
// forwarded; those a Connection header names are dropped too.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authorization",
	"Proxy-Authenticate", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forward serves an absolute-URI request for http://: one upstream
// connection per request, to the checked address, the response streamed
// back as it comes (flushed at every read), with every read and write
// bounded by IdleTimeout.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, g Grant) {
	if r.URL.Scheme != "http" {
		p.fail(w, r, g, r.URL.Host, refuse(ReasonBadRequest, "only http:// is forwarded; use CONNECT (HTTPS_PROXY) for %.20s://", r.URL.Scheme))
		return
	}
	t, rf := parseTarget(r.URL.Host, 80)
	if rf != nil {
		p.fail(w, r, g, r.URL.Host, rf)
		return
	}
	if rf := p.acquire(g.Agent); rf != nil {
		p.fail(w, r, g, t.String(), rf)
		return
	}
	defer p.release(g.Agent)
	up, err := p.dial(r.Context(), g.Policy, t)
	if err != nil {
		p.fail(w, r, g, t.String(), err)
		return
	}
	defer up.Close()
	p.stats.allowed.Add(1)
	upc := &idleConn{Conn: up, idle: p.cfg.IdleTimeout}
	rc := http.NewResponseController(w)

	out := outgoing(r, rc, p.cfg.IdleTimeout)
	if err := out.Write(upc); err != nil {
		p.upstreamFailed(w, g, t.String(), err)
		return
	}
	hr := &headerLimit{r: upc, left: p.cfg.MaxHeaderBytes + 4096}
	br := bufio.NewReader(hr)
	resp, err := http.ReadResponse(br, out)
	for err == nil && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
		resp, err = http.ReadResponse(br, out) // 1xx informational: the final answer follows
	}
	if err != nil {
		p.upstreamFailed(w, g, t.String(), err)
		return
	}
	defer resp.Body.Close()
	// ReadResponse deletes a Connection header that says "close", and
	// with it the names of the other hop-by-hop headers it lists: they
	// are read from the raw header instead.
	if conn := rawConnection(hr.rec); len(conn) > 0 {
		resp.Header["Connection"] = conn
	}
	hr.left, hr.rec = -1, nil // headers read; the body is bounded by time, not size
	copyHeader(w.Header(), resp.Header)
	if resp.ContentLength >= 0 && resp.Header.Get("Content-Length") != "" {
		w.Header().Set("Content-Length", resp.Header.Get("Content-Length"))
	}
	w.WriteHeader(resp.StatusCode)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(p.cfg.IdleTimeout))
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			return // at EOF the answer is whole; otherwise the client sees it cut short
		}
	}
}

// outgoing is the request sent upstream: r's method, URL and body (each
// read of it bounded by idle), its end-to-end headers, and the URL's
// host as Host (the client's Host header is not trusted to agree).
func outgoing(r *http.Request, rc *http.ResponseController, idle time.Duration) *http.Request {
	out := &http.Request{
		Method:        r.Method,
		URL:           r.URL,
		Host:          r.URL.Host,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header, len(r.Header)),
		ContentLength: r.ContentLength,
		Close:         true,
	}
	copyHeader(out.Header, r.Header)
	out.Header.Del("Expect") // the client's 100-continue is answered by this server
	if r.ContentLength != 0 {
		out.Body = &idleBody{r: r.Body, rc: rc, idle: idle}
	}
	return out
}

// copyHeader copies src's end-to-end headers into dst.
func copyHeader(dst, src http.Header) {
	drop := map[string]bool{}
	for _, h := range hopHeaders {
		drop[h] = true
	}
	for _, v := range src.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			drop[textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name))] = true
		}
	}
	for k, vs := range src {
		if !drop[k] && k != "Content-Length" {
			dst[k] = append(dst[k], vs...)
		}
	}
}

// upstreamFailed answers 502 for an upstream that failed mid-exchange.
func (p *Proxy) upstreamFailed(w http.ResponseWriter, g Grant, dest string, err error) {
	p.stats.upstreamFailed.Add(1)
	msg := "the destination did not answer in time or broke off"
	if errors.Is(err, errHeaderTooLarge) {
		msg = "the destination's response header is too large"
	}
	p.cfg.Log.Info("egress: upstream failed", "agent", g.Agent, "destination", dest, "err", err)
	http.Error(w, "warder egress: "+msg, http.StatusBadGateway)
}

var errHeaderTooLarge = errors.New("response header too large")

// headerLimit fails a read past left bytes (no limit once left < 0),
// and keeps what it read until then.
type headerLimit struct {
	r    io.Reader
	left int
	rec  []byte
}

func (h *headerLimit) Read(b []byte) (int, error) {
	if h.left < 0 {
		return h.r.Read(b)
	}
	if h.left == 0 {
		return 0, errHeaderTooLarge
	}
	if len(b) > h.left {
		b = b[:h.left]
	}
	n, err := h.r.Read(b)
	h.left -= n
	h.rec = append(h.rec, b[:n]...)
	return n, err
}

// rawConnection returns the Connection header values of a raw response
// head (the status line, the header, and perhaps body bytes after it).
func rawConnection(raw []byte) []string {
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(head, "\r\n\r\n"...))))
	if _, err := tp.ReadLine(); err != nil {
		return nil
	}
	h, _ := tp.ReadMIMEHeader()
	return h.Values("Connection")
}

// idleConn sets a deadline of idle before every read and write.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(b []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(b)
}

func (c *idleConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(b)
}

// idleBody bounds each read of a request body by idle.
type idleBody struct {
	r    io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	return b.r.Read(p)
}

func (b *idleBody) Close() error { return b.r.Close() }
