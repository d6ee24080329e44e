package egress

import "net/netip"

// specialRange is a block of addresses an agent reaches only when its
// list names them by IP or CIDR: they are the host's, the cloud's or the
// operator's own networks, not the internet.
type specialRange struct {
	prefix netip.Prefix
	kind   string
}

// specialRanges are tried in order; the first match names the kind, so
// the metadata addresses come before the blocks that hold them.
var specialRanges = func() []specialRange {
	list := []struct{ cidr, kind string }{
		{"169.254.169.254/32", "cloud metadata"},
		{"fd00:ec2::254/128", "cloud metadata"},
		{"0.0.0.0/8", "unspecified"},
		{"::/128", "unspecified"},
		{"127.0.0.0/8", "loopback"},
		{"::1/128", "loopback"},
		{"169.254.0.0/16", "link-local"},
		{"fe80::/10", "link-local"},
		{"10.0.0.0/8", "private"},
		{"172.16.0.0/12", "private"},
		{"192.168.0.0/16", "private"},
		{"fc00::/7", "private"},
		{"100.64.0.0/10", "shared (CGNAT)"},
		{"192.0.0.0/24", "reserved"},
		{"198.18.0.0/15", "reserved"},
		{"240.0.0.0/4", "reserved"}, // and 255.255.255.255
		{"224.0.0.0/4", "multicast"},
		{"ff00::/8", "multicast"},
		{"::/96", "reserved"},          // IPv4-compatible, deprecated
		{"64:ff9b:1::/48", "reserved"}, // local-use NAT64
		{"100::/64", "reserved"},       // discard
		{"2001::/23", "reserved"},      // IETF protocol assignments (Teredo, ...)
	}
	out := make([]specialRange, len(list))
	for i, l := range list {
		out[i] = specialRange{netip.MustParsePrefix(l.cidr), l.kind}
	}
	return out
}()

// nat64 and sixToFour embed an IPv4 address; the embedded one is what
// the packet reaches, so it is the one classified.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Special returns the kind of a that is not the public internet
// ("loopback", "private", "cloud metadata", ...), or "" for a public
// address. An IPv4 address inside IPv6 (mapped, NAT64, 6to4) is judged
// as the IPv4 address it carries.
func Special(a netip.Addr) string {
	a = embedded(a)
	if !a.IsValid() {
		return "invalid"
	}
	if a.Zone() != "" {
		return "link-local"
	}
	for _, r := range specialRanges {
		if r.prefix.Contains(a) {
			return r.kind
		}
	}
	return ""
}

// embedded returns the IPv4 address a carries, or a.
func embedded(a netip.Addr) netip.Addr {
	a = a.Unmap()
	b := a.As16()
	switch {
	case a.Is6() && nat64.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	case a.Is6() && sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
	}
	return a
}

// overlapsSpecial reports whether any address of p is special.
func overlapsSpecial(p netip.Prefix) bool {
	if p.Addr().Is6() && (p.Overlaps(nat64) || p.Overlaps(sixToFour)) {
		return true // judged by what they embed; be conservative
	}
	for _, r := range specialRanges {
		if r.prefix.Overlaps(p) {
			return true
		}
	}
	return false
}
