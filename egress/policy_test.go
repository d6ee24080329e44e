package egress

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/warder/warder"
)

func TestParseRule(t *testing.T) {
	ok := []struct{ in, out string }{
		{"api.openai.com", "api.openai.com"},
		{"API.OpenAI.com.", "api.openai.com"},
		{"*.github.com:443", "*.github.com:443"},
		{"*", "*"},
		{"*:443", "*:443"},
		{"localhost", "localhost"},
		{"my_host.internal:8080", "my_host.internal:8080"},
		{"10.1.2.3", "10.1.2.3"},
		{"10.1.2.3:5432", "10.1.2.3:5432"},
		{"10.1.2.0/24", "10.1.2.0/24"},
		{"10.1.2.0/24:443", "10.1.2.0/24:443"},
		{"2001:db8::1", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"[2001:db8::1]:443", "[2001:db8::1]:443"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"2001:db8::/32:443", "[2001:db8::/32]:443"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
	}
	for _, tc := range ok {
		r, err := ParseRule(tc.in)
		if err != nil {
			t.Errorf("ParseRule(%q): %v", tc.in, err)
			continue
		}
		if got := r.String(); got != tc.out {
			t.Errorf("ParseRule(%q) = %q, want %q", tc.in, got, tc.out)
		}
	}
	bad := []struct{ in, want string }{
		{"", "empty"},
		{"all", "stands alone"},
		{"none:443", "stands alone"},
		{"api.openai.com:0", "port"},
		{"api.openai.com:65536", "port"},
		{"api.openai.com:https", "port"},
		{"api.openai.com:080", "port"},
		{"a*.github.com", "wildcard"},
		{"*.*.github.com", "wildcard"},
		{"github.*", "wildcard"},
		{"*.", "wildcard"},
		{"exa mple.com", "white space"},
		{"bücher.example", "punycode"},
		{"-bad.example", "'-'"},
		{"a..b", "label"},
		{"10.1", "last label is a number"},
		{"10.1.2.3/24", "did you mean 10.1.2.0/24"},
		{"10.1.2.0/33", "CIDR"},
		{"fe80::1%eth0", "plain IP"},
		{"::ffff:10.0.0.1", "plain IP"},
		{"[10.0.0.1]:80", "IPv6"},
		{"[2001:db8::1", "unclosed"},
		{"[2001:db8::1]443", "[address]:port"},
		{"http://example.com", "not a URL"},
		{"example.com/path", "CIDR"},
		{strings.Repeat("a", 64) + ".com", "label"},
		{strings.Repeat("a.", 150) + "com", "characters"},
	}
	for _, tc := range bad {
		_, err := ParseRule(tc.in)
		if err == nil {
			t.Errorf("ParseRule(%q) accepted", tc.in)
			continue
		}
		if !errors.Is(err, warder.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRule(%q) = %v, want ErrInvalid mentioning %q", tc.in, err, tc.want)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
		err  string
	}{
		{nil, "none", ""},
		{[]string{"none"}, "none", ""},
		{[]string{"ALL"}, "all", ""},
		{[]string{"*"}, "all", ""},
		{[]string{"a.com", "a.com", "b.com:443"}, "a.com,b.com:443", ""},
		{[]string{"none", "a.com"}, "", "stands alone"},
		{[]string{"a.com", "all"}, "", "stands alone"},
		{make([]string, 300), "", "at most 256"},
	} {
		p, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) = %v, want error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tc.in, p.String(), err, tc.want)
		}
	}
}

func TestPolicyJSON(t *testing.T) {
	for _, tc := range []struct{ in, out, err string }{
		{`"none"`, `"none"`, ""},
		{`"all"`, `"all"`, ""},
		{`["api.openai.com","*.github.com:443"]`, `["api.openai.com","*.github.com:443"]`, ""},
		{`[]`, `"none"`, ""},
		{`"api.openai.com"`, "", "a single word"},
		{`42`, "", "want"},
		{`["bad host"]`, "", "white space"},
	} {
		var p Policy
		err := json.Unmarshal([]byte(tc.in), &p)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, warder.ErrInvalid) {
				t.Errorf("Unmarshal(%s) = %v, want ErrInvalid with %q", tc.in, err, tc.err)
			}
			continue
		}
		b, _ := json.Marshal(p)
		if err != nil || string(b) != tc.out {
			t.Errorf("Unmarshal(%s) then Marshal = %s, %v; want %s", tc.in, b, err, tc.out)
		}
	}
}

func TestCheck(t *testing.T) {
	p := MustParse("api.openai.com", "*.github.com:443", "10.1.2.0/24", "192.168.1.5:5432", "2001:db8::/32:443", "internal.corp")
	pub := netip.MustParseAddr("93.184.216.34")
	for _, tc := range []struct {
		host   string
		port   uint16
		addr   string // what the host resolves to; "" to check the host only
		reason Reason // "" allowed
	}{
		{"api.openai.com", 443, "93.184.216.34", ""},
		{"api.openai.com", 8080, "93.184.216.34", ""},
		{"openai.com", 443, "", ReasonNotListed},
		{"x.api.openai.com", 443, "", ReasonNotListed},
		{"api.github.com", 443, "140.82.112.6", ""},
		{"a.b.github.com", 443, "140.82.112.6", ""},
		{"github.com", 443, "", ReasonNotListed},
		{"api.github.com", 80, "", ReasonNotListed},
		{"evilgithub.com", 443, "", ReasonNotListed},
		{"api.openai.com", 443, "127.0.0.1", ReasonAddress},
		{"api.openai.com", 443, "169.254.169.254", ReasonAddress},
		{"api.openai.com", 443, "::ffff:169.254.169.254", ReasonAddress},
		{"api.openai.com", 443, "fd00:ec2::254", ReasonAddress},
		{"api.openai.com", 443, "100.64.1.1", ReasonAddress},
		{"api.openai.com", 443, "0.0.0.0", ReasonAddress},
		{"api.openai.com", 443, "::", ReasonAddress},
		{"api.openai.com", 443, "64:ff9b::7f00:1", ReasonAddress},
		{"api.openai.com", 443, "10.1.2.9", ""},             // listed CIDR lets a name reach it
		{"internal.corp", 22, "10.1.2.9", ""},               // any port
		{"internal.corp", 5432, "192.168.1.5", ""},          // listed IP on its port
		{"internal.corp", 22, "192.168.1.5", ReasonAddress}, // not on another
		{"10.1.2.9", 22, "10.1.2.9", ""},
		{"10.1.3.9", 22, "", ReasonNotListed},
		{"93.184.216.34", 80, "", ReasonNotListed}, // an IP literal needs an IP rule
		{"2001:db8::5", 443, "2001:db8::5", ""},
		{"2001:db8::5", 80, "", ReasonNotListed},
	} {
		r := p.CheckHost(tc.host, tc.port)
		if r == nil && tc.addr != "" {
			r = p.CheckAddr(netip.MustParseAddr(tc.addr), tc.port)
		}
		got := Reason("")
		if r != nil {
			got = r.Reason
		}
		if got != tc.reason {
			t.Errorf("%s:%d at %s: got %q (%v), want %q", tc.host, tc.port, tc.addr, got, r, tc.reason)
		}
	}
	if r := All.CheckHost("93.184.216.34", 80); r != nil || All.CheckAddr(pub, 80) != nil {
		t.Errorf("all refuses a public IP literal: %v", r)
	}
	if All.CheckAddr(netip.MustParseAddr("10.0.0.1"), 80) == nil {
		t.Error("all allows a private address")
	}
	if r := None.CheckHost("api.openai.com", 443); r == nil || !strings.Contains(r.Detail, `"none"`) {
		t.Errorf("none: %v", r)
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		p, ceiling []string
		ok         bool
	}{
		{[]string{"api.openai.com"}, []string{"all"}, true},
		{[]string{"none"}, []string{"none"}, true},
		{[]string{"api.openai.com"}, []string{"none"}, false},
		{[]string{"all"}, []string{"api.openai.com"}, false},
		{[]string{"all"}, []string{"all"}, true},
		{[]string{"*:443"}, []string{"all"}, true},
		{[]string{"all"}, []string{"*:443"}, false},
		{[]string{"api.github.com:443"}, []string{"*.github.com"}, true},
		{[]string{"api.github.com"}, []string{"*.github.com:443"}, false}, // any port vs 443
		{[]string{"*.api.github.com:443"}, []string{"*.github.com:443"}, true},
		{[]string{"*.github.com"}, []string{"*.github.com"}, true},
		{[]string{"github.com"}, []string{"*.github.com"}, false},
		{[]string{"*.github.com"}, []string{"api.github.com"}, false},
		{[]string{"10.1.2.0/24"}, []string{"10.0.0.0/8"}, true},
		{[]string{"10.1.2.3:22"}, []string{"10.0.0.0/8"}, true},
		{[]string{"10.0.0.0/8"}, []string{"10.1.2.0/24"}, false},
		{[]string{"10.1.2.0/24"}, []string{"all"}, false},  // private needs the ceiling to list it
		{[]string{"8.8.8.0/24"}, []string{"all"}, true},    // public: "*" reaches it anyway
		{[]string{"8.8.8.8:53"}, []string{"*:443"}, false}, // port
		{[]string{"2001:db8::/48"}, []string{"2001:db8::/32"}, true},
		{[]string{"::/0"}, []string{"0.0.0.0/0"}, false}, // families differ
		{[]string{"internal.corp", "10.0.0.0/8"}, []string{"*", "10.0.0.0/8"}, true},
		{[]string{"api.openai.com"}, []string{"10.0.0.0/8"}, false},
	} {
		p, ceiling := mustParse(t, tc.p), mustParse(t, tc.ceiling)
		err := p.Within(ceiling)
		if (err == nil) != tc.ok {
			t.Errorf("%v within %v: %v, want ok=%v", tc.p, tc.ceiling, err, tc.ok)
		}
		if err != nil && !errors.Is(err, warder.ErrForbidden) {
			t.Errorf("%v within %v: %v is not ErrForbidden", tc.p, tc.ceiling, err)
		}
	}
}

func TestOperator(t *testing.T) {
	o := Operator{Default: MustParse("api.openai.com"), Ceiling: MustParse("*:443", "api.openai.com")}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if p, err := o.Effective(nil); err != nil || p.String() != "api.openai.com" {
		t.Errorf("default: %v %v", p, err)
	}
	own := MustParse("*.github.com:443")
	if p, err := o.Effective(&own); err != nil || p.String() != "*.github.com:443" {
		t.Errorf("own: %v %v", p, err)
	}
	own = MustParse("*.github.com")
	if _, err := o.Effective(&own); err == nil || !strings.Contains(err.Error(), `"*.github.com" is outside`) {
		t.Errorf("over the ceiling: %v", err)
	}
	bad := Operator{Default: All, Ceiling: MustParse("*:443")}
	if err := bad.Validate(); !errors.Is(err, warder.ErrInvalid) {
		t.Errorf("default over ceiling: %v", err)
	}
}

func TestSpecial(t *testing.T) {
	for addr, want := range map[string]string{
		"8.8.8.8":          "",
		"2606:4700::1111":  "",
		"127.0.0.2":        "loopback",
		"::1":              "loopback",
		"169.254.169.254":  "cloud metadata",
		"fd00:ec2::254":    "cloud metadata",
		"169.254.1.1":      "link-local",
		"fe80::1":          "link-local",
		"10.9.9.9":         "private",
		"172.31.0.1":       "private",
		"192.168.0.1":      "private",
		"fd12::1":          "private",
		"100.100.100.100":  "shared (CGNAT)",
		"0.0.0.0":          "unspecified",
		"::":               "unspecified",
		"255.255.255.255":  "reserved",
		"224.0.0.1":        "multicast",
		"::ffff:10.0.0.1":  "private",
		"64:ff9b::a00:1":   "private",
		"64:ff9b::808:808": "",
		"2002:a00:1::1":    "private",
		"2002:808:808::1":  "",
	} {
		if got := Special(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Special(%s) = %q, want %q", addr, got, want)
		}
	}
}

func mustParse(t *testing.T, entries []string) Policy {
	t.Helper()
	p, err := Parse(entries)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
