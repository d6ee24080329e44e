package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// target is a checked request's destination.
type target struct {
	host string // normalised name, or IP literal without brackets
	port uint16
}

func (t target) String() string { return joinHostPort(t.host, t.port) }

// parseTarget reads "host:port" (defaultPort when the port is absent and
// defaultPort is not 0) into a normalised target.
func parseTarget(hostport string, defaultPort uint16) (target, *Refusal) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		if defaultPort == 0 {
			return target{}, refuse(ReasonBadRequest, "want host:port, got %.100q", hostport)
		}
		host, portStr = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), strconv.Itoa(int(defaultPort))
	}
	n, err := strconv.Atoi(portStr)
	if err != nil || n < 1 || n > 65535 {
		return target{}, refuse(ReasonBadRequest, "bad port in %.100q", hostport)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return target{}, refuse(ReasonBadRequest, "an address with a zone is not a destination")
		}
		return target{host: a.Unmap().String(), port: uint16(n)}, nil
	}
	name, err := normalName(host, false)
	if err != nil {
		return target{}, refuse(ReasonBadRequest, "%.100q: %v", host, err)
	}
	return target{host: name, port: uint16(n)}, nil
}

// errDial is a failure to reach an allowed destination (502, not a
// refusal).
type errDial struct{ err error }

func (e errDial) Error() string { return e.err.Error() }

// dial checks t against the policy, resolves it once, checks every
// address, and connects to an allowed one: the address checked is the
// address dialed, so a name that resolves differently a moment later
// (DNS rebinding) changes nothing. The error is a *Refusal or errDial.
func (p *Proxy) dial(ctx context.Context, pol Policy, t target) (net.Conn, error) {
	if r := pol.CheckHost(t.host, t.port); r != nil {
		return nil, r
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(t.host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = p.cfg.Resolver.LookupNetIP(ctx, "ip", t.host)
		if err != nil || len(addrs) == 0 {
			var dnsErr *net.DNSError
			if err == nil || errors.As(err, &dnsErr) && dnsErr.IsNotFound {
				return nil, refuse(ReasonUnresolvable, "%s does not resolve", t.host)
			}
			return nil, errDial{fmt.Errorf("resolving %s: %w", t.host, err)}
		}
	}
	var allowed []netip.Addr
	var first *Refusal
	for _, a := range addrs {
		if r := pol.CheckAddr(a, t.port); r != nil {
			if first == nil {
				first = r
			}
			continue
		}
		allowed = append(allowed, a.Unmap())
	}
	if len(allowed) == 0 {
		if t.host != addrs[0].String() {
			first.Detail = t.host + " resolves to " + first.Detail
		}
		return nil, first
	}
	var err error
	for _, a := range allowed {
		var c net.Conn
		c, err = p.cfg.Dial(ctx, "tcp", netip.AddrPortFrom(a, t.port).String())
		if err == nil {
			return c, nil
		}
	}
	return nil, errDial{fmt.Errorf("connecting to %s: %w", t, err)}
}
