package egress

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/warder/warder"
)

// ParseRule reads one destination: "*", a name ("api.openai.com"), a
// wildcard ("*.github.com": any name below github.com, not github.com
// itself), an IP ("10.1.2.3", "2001:db8::1"), or a CIDR ("10.1.2.0/24"),
// each optionally followed by ":port" (an IPv6 address with a port is
// written "[2001:db8::1]:443"; a CIDR's port follows its bits,
// "fd00::/8:5432").
func ParseRule(entry string) (Rule, error) {
	bad := func(why string, args ...any) (Rule, error) {
		return Rule{}, warder.Errorf(warder.ErrInvalid, "egress entry %q: "+why, append([]any{entry}, args...)...)
	}
	if entry == "" {
		return bad("empty")
	}
	if len(entry) > maxEntryLen {
		return bad("longer than %d characters", maxEntryLen)
	}
	if strings.ContainsAny(entry, " \t\r\n") {
		return bad("contains white space")
	}
	if strings.Contains(entry, "://") {
		return bad("write a host name, not a URL")
	}
	s := strings.ToLower(entry)
	switch w := strings.TrimSuffix(s, ":"+portPart(s)); w {
	case "none", "all":
		return bad("%q stands alone, not in a list", w)
	}
	host, port, err := splitPort(s)
	if err != nil {
		return bad("%s", err.Error())
	}
	r := Rule{Port: port}
	switch {
	case strings.Contains(host, "/"):
		p, err := netip.ParsePrefix(host)
		if err != nil || p.Addr().Zone() != "" {
			return bad("not a CIDR (want e.g. 10.1.2.0/24)")
		}
		if p != p.Masked() {
			return bad("has bits set past the /%d; did you mean %s?", p.Bits(), p.Masked())
		}
		if p.Addr().Is4In6() {
			return bad("write IPv4 as IPv4")
		}
		r.Prefix = p
	case isAddr(host):
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" || a.Is4In6() {
			return bad("not a plain IP address")
		}
		r.Prefix = netip.PrefixFrom(a, a.BitLen())
	default:
		name, err := normalName(host, true)
		if err != nil {
			return bad("%s", err.Error())
		}
		r.Host = name
	}
	return r, nil
}

// portPart is what follows the last colon of s, for the "none"/"all"
// check only.
func portPart(s string) string {
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return s[i+1:]
	}
	return ""
}

// splitPort separates an entry's optional port. A bare IPv6 address or
// CIDR (two colons or more, no brackets) has no port.
func splitPort(s string) (string, uint16, error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, errString("unclosed [")
		}
		host, rest := s[1:end], s[end+1:]
		if !strings.Contains(host, ":") {
			return "", 0, errString("brackets are for IPv6 addresses only")
		}
		if rest == "" {
			return host, 0, nil
		}
		if !strings.HasPrefix(rest, ":") {
			return "", 0, errString("want [address]:port")
		}
		p, err := parsePort(rest[1:])
		return host, p, err
	}
	if slash := strings.IndexByte(s, '/'); slash >= 0 {
		if colon := strings.IndexByte(s[slash:], ':'); colon >= 0 {
			p, err := parsePort(s[slash+colon+1:])
			return s[:slash+colon], p, err
		}
		return s, 0, nil
	}
	if strings.Count(s, ":") > 1 {
		return s, 0, nil // bare IPv6
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		p, err := parsePort(s[i+1:])
		return s[:i], p, err
	}
	return s, 0, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || s[0] == '0' || s[0] == '+' {
		return 0, errString("port must be a number from 1 to 65535")
	}
	return uint16(n), nil
}

// isAddr tells an IP literal from a name: a name never has a colon, and
// never ends with an all-digit label (normalName refuses those).
func isAddr(host string) bool {
	if strings.Contains(host, ":") {
		return true
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}

// normalName returns host lower-cased, without a trailing dot, if it is
// a DNS name (letters, digits, '-' and '_', labels of 1 to 63 bytes, at
// most 253 bytes). With wildcard, "*" and a leading "*." are allowed.
// Names whose last label is all digits are refused: they look like
// addresses, and resolvers read some of them as such ("10.1").
func normalName(host string, wildcard bool) (string, error) {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if wildcard && host == wildcardHost {
		return h, nil
	}
	rest := h
	if wildcard && strings.HasPrefix(h, "*.") {
		rest = h[2:]
	}
	if rest == "" || len(rest) > maxNameLen {
		return "", errString("not a host name")
	}
	labels := strings.Split(rest, ".")
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return "", err
		}
	}
	if allDigits(labels[len(labels)-1]) {
		return "", errString("not a host name (its last label is a number) nor an IP address")
	}
	return h, nil
}

func checkLabel(l string) error {
	if l == "" || len(l) > maxLabelLen {
		return errString("not a host name (empty or over-long label)")
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return errString("not a host name (a label starts or ends with '-')")
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '*':
			return errString(`a wildcard is "*." at the start only`)
		default:
			return errString("not a host name (write international names in punycode, xn--...)")
		}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// errString is an error of a fixed text, wrapped into a warder.Error by
// the caller.
type errString string

func (e errString) Error() string { return string(e) }
