package egress

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// connect serves CONNECT: check, dial, answer 200, then (on an SNI port)
// read the ClientHello and require its server name to be the CONNECT
// host, then splice the two connections until either ends or both are
// idle for IdleTimeout.
func (p *Proxy) connect(w http.ResponseWriter, r *http.Request, g Grant) {
	t, rf := parseTarget(r.Host, 0)
	if rf != nil {
		p.fail(w, r, g, r.Host, rf)
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
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		p.cfg.Log.Error("egress: hijacking a CONNECT", "agent", g.Agent, "err", err)
		return
	}
	defer conn.Close()
	if !p.track(conn, true) {
		return
	}
	defer p.track(conn, false)
	_ = conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	var client io.Reader = brw.Reader
	if slices.Contains(p.cfg.SNIPorts, t.port) {
		_ = conn.SetReadDeadline(time.Now().Add(p.cfg.HelloTimeout))
		sni, raw, err := readClientHello(brw.Reader)
		_ = conn.SetReadDeadline(time.Time{})
		if err != nil {
			return // the client went away, or sent nothing in time
		}
		if sni != "" && !sameHost(sni, t.host) {
			p.refused(r.Context(), g.Agent, t.String(), refuse(ReasonSNI, "TLS server name %.100q is not the CONNECT host %s", sni, t.host))
			return
		}
		client = io.MultiReader(bytes.NewReader(raw), brw.Reader)
	}
	p.stats.allowed.Add(1)
	splice(conn, client, up, p.cfg.IdleTimeout)
}

// sameHost compares a TLS server name with a CONNECT host.
func sameHost(sni, host string) bool {
	return strings.EqualFold(strings.TrimSuffix(sni, "."), host)
}

// maxHello bounds what is read while looking for a ClientHello (a
// handshake message is at most 64 KiB, plus record headers).
const maxHello = 70 << 10

// errNoHello is a read failure before a whole ClientHello came.
var errNoHello = errors.New("no ClientHello")

// readClientHello reads a TLS ClientHello from r and returns its server
// name ("" when it has none), with every byte it read, to be replayed to
// the upstream. The standard library's TLS server parses the hello (no
// parser of our own to get wrong) and is stopped at GetConfigForClient,
// on a connection that cannot write: nothing is answered. A stream that
// is not TLS is no error: its bytes come back with an empty name.
func readClientHello(r io.Reader) (string, []byte, error) {
	var raw bytes.Buffer
	c := &readOnlyConn{r: io.TeeReader(io.LimitReader(r, maxHello), &raw)}
	var name string
	var seen bool
	stop := errors.New("stop")
	_ = tls.Server(c, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		name, seen = h.ServerName, true
		return nil, stop
	}}).Handshake()
	switch {
	case seen:
		return name, raw.Bytes(), nil
	case c.err != nil && raw.Len() < 5:
		return "", nil, errNoHello // nothing, or not even a record header
	case c.err != nil && looksLikeTLS(raw.Bytes()):
		return "", nil, errNoHello // a hello cut short or over maxHello
	}
	return "", raw.Bytes(), nil
}

// looksLikeTLS reports whether b starts with a TLS handshake record.
func looksLikeTLS(b []byte) bool { return len(b) > 0 && b[0] == 0x16 }

// readOnlyConn is a net.Conn over a reader; writes fail, and the first
// read error is kept.
type readOnlyConn struct {
	r   io.Reader
	err error
}

func (c *readOnlyConn) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}
func (c *readOnlyConn) Write([]byte) (int, error)        { return 0, errors.New("read-only") }
func (c *readOnlyConn) Close() error                     { return nil }
func (c *readOnlyConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *readOnlyConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *readOnlyConn) SetDeadline(time.Time) error      { return nil }
func (c *readOnlyConn) SetReadDeadline(time.Time) error  { return nil }
func (c *readOnlyConn) SetWriteDeadline(time.Time) error { return nil }
