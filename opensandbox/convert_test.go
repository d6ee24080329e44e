package opensandbox

import (
	"slices"
	"testing"
	"time"

	"github.com/warder/warder/wire"
)

func TestParseQuantities(t *testing.T) {
	cpus := []struct {
		in   string
		want float64
		ok   bool
	}{{"500m", 0.5, true}, {"1", 1, true}, {"2.5", 2.5, true}, {"0", 0, false}, {"1Gi", 0, false}, {"abc", 0, false}, {"", 0, false}}
	for _, c := range cpus {
		got, err := parseCPU(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseCPU(%q) = %v, %v", c.in, got, err)
		}
	}
	mems := []struct {
		in, want string
		ok       bool
	}{{"512Mi", "536870912b", true}, {"2Gi", "2147483648b", true}, {"1G", "1000000000b", true}, {"64Ki", "65536b", true}, {"1048576", "1048576b", true},
		{"1Xi", "", false}, {"-1Mi", "", false}, {"Mi", "", false}, {"0", "", false}}
	for _, c := range mems {
		got, err := parseMemory(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseMemory(%q) = %q, %v", c.in, got, err)
		}
	}
}

func TestEgressOfPolicy(t *testing.T) {
	cases := []struct {
		name string
		in   *networkPolicy
		want wire.Egress
		ok   bool
	}{
		{"none given", nil, nil, true},
		{"allow all", &networkPolicy{DefaultAction: "allow"}, wire.Egress{"all"}, true},
		{"deny all", &networkPolicy{DefaultAction: "deny"}, wire.Egress{"none"}, true},
		{"list", &networkPolicy{DefaultAction: "deny", Egress: []networkRule{{Action: "allow", Target: "*.github.com", Ports: []int{443, 22}}, {Action: "allow", Target: "10.0.0.0/8"}}},
			wire.Egress{"*.github.com:443", "*.github.com:22", "10.0.0.0/8"}, true},
		{"deny under allow", &networkPolicy{DefaultAction: "allow", Egress: []networkRule{{Action: "deny", Target: "evil.example"}}}, nil, false},
		{"ports alone", &networkPolicy{DefaultAction: "deny", Egress: []networkRule{{Action: "allow", Ports: []int{443}}}}, nil, false},
		{"bad port", &networkPolicy{DefaultAction: "deny", Egress: []networkRule{{Action: "allow", Target: "a.example", Ports: []int{0}}}}, nil, false},
		{"bad action", &networkPolicy{DefaultAction: "maybe"}, nil, false},
	}
	for _, c := range cases {
		got, err := egressOf(c.in)
		if (err == nil) != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("%s: egressOf = %v, %v", c.name, got, err)
		}
	}
	// A list shown as a policy and read back is the same list.
	list := wire.Egress{"*.github.com:22", "*.github.com:443", "10.0.0.0/8", "api.example.com"}
	p := policyOf(list, wire.NetworkEgress)
	back, err := egressOf(&p)
	if err != nil || !slices.Equal(back, list) {
		t.Errorf("round trip: %v, %v (policy %+v)", back, err, p)
	}
	p = policyOf(nil, wire.NetworkInternal)
	if p.DefaultAction != "deny" || len(p.Egress) != 0 {
		t.Errorf("internal network = %+v", p)
	}
	p = mergeRules(p, []networkRule{{Action: "allow", Target: "a.example"}, {Action: "allow", Target: "a.example", Ports: []int{1}}})
	if len(p.Egress) != 1 || len(p.Egress[0].Ports) != 0 {
		t.Errorf("mergeRules: first rule for a target wins: %+v", p)
	}
	if p = dropRules(p, []string{"a.example", "unknown"}); len(p.Egress) != 0 {
		t.Errorf("dropRules = %+v", p)
	}
}

func TestStateOf(t *testing.T) {
	one, zero := 1, 0
	cases := []struct {
		status wire.Status
		exit   *int
		want   string
	}{{wire.StatusCreated, nil, statePending}, {wire.StatusStarting, nil, statePending}, {wire.StatusRunning, nil, stateRunning},
		{wire.StatusPaused, nil, statePaused}, {wire.StatusStopping, nil, stateStopping}, {wire.StatusStopped, nil, stateTerminated},
		{wire.StatusExited, &zero, stateTerminated}, {wire.StatusExited, &one, stateFailed}, {wire.StatusFailed, nil, stateFailed}, {wire.StatusMissing, nil, stateFailed}}
	for _, c := range cases {
		if got, reason := stateOf(&wire.Agent{Status: c.status, ExitCode: c.exit}); got != c.want || reason != string(c.status) {
			t.Errorf("stateOf(%s) = %s, %s", c.status, got, reason)
		}
	}
}

func TestMetaRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 5, time.UTC)
	m := sandboxMeta{Metadata: map[string]string{"a": "b"}, ExpiresAt: &at, Entrypoint: keepAlive, SnapshotID: "s1"}
	cfg := withMeta(map[string]any{"other": 1.0}, m)
	got := metaOf(cfg)
	if got.Metadata["a"] != "b" || !got.ExpiresAt.Equal(at) || !slices.Equal(got.Entrypoint, keepAlive) || got.SnapshotID != "s1" || cfg["other"] != 1.0 {
		t.Errorf("metaOf(withMeta) = %+v (%v)", got, cfg)
	}
	if got := metaOf(nil); got.ExpiresAt != nil || got.Metadata != nil {
		t.Errorf("metaOf(nil) = %+v", got)
	}
}

func TestPage(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	got, p := page(items, 2, 2)
	if !slices.Equal(got, []int{3, 4}) || p.TotalItems != 5 || p.TotalPages != 3 || !p.HasNextPage {
		t.Errorf("page 2 = %v %+v", got, p)
	}
	got, p = page(items, 4, 2)
	if len(got) != 0 || p.HasNextPage {
		t.Errorf("page 4 = %v %+v", got, p)
	}
}

func TestByteRange(t *testing.T) {
	cases := []struct {
		header, offset, limit string
		start, end            int64
		partial, ok           bool
	}{
		{"", "", "", 0, 11, false, true},
		{"bytes=6-10", "", "", 6, 11, true, true},
		{"bytes=6-", "", "", 6, 11, true, true},
		{"bytes=-3", "", "", 8, 11, true, true},
		{"bytes=6-100", "", "", 6, 11, true, true},
		{"", "2", "3", 2, 5, true, true},
		{"bytes=11-", "", "", 0, 0, false, false},
		{"bytes=5-2", "", "", 0, 0, false, false},
		{"bytes=0-1,3-4", "", "", 0, 0, false, false},
		{"items=0-1", "", "", 0, 0, false, false},
	}
	for _, c := range cases {
		s, e, partial, err := byteRange(c.header, c.offset, c.limit, 11)
		if (err == nil) != c.ok || (c.ok && (s != c.start || e != c.end || partial != c.partial)) {
			t.Errorf("byteRange(%q, %q, %q) = %d, %d, %v, %v", c.header, c.offset, c.limit, s, e, partial, err)
		}
	}
}

func TestModesAndPaths(t *testing.T) {
	for in, want := range map[string]int{"-rw-r--r--": 644, "drwxr-x---": 750, "-rwxrwxrwx": 777, "": 0} {
		if got := octalMode(in); got != want {
			t.Errorf("octalMode(%q) = %d", in, got)
		}
	}
	if b, err := permOf(755); err != nil || b != 0o755 {
		t.Errorf("permOf(755) = %o, %v", b, err)
	}
	for _, bad := range []int{8, 1000, -1} {
		if _, err := permOf(bad); err == nil {
			t.Errorf("permOf(%d) passed", bad)
		}
	}
	paths := map[string]string{"/data": "", "/data/": "", "/data/a/b": "a/b", "a/b": "a/b", ".": "", "/data/a/../b": "b"}
	for in, want := range paths {
		if got, err := wsPath(in); err != nil || got != want {
			t.Errorf("wsPath(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "/etc/passwd", "/data/../etc", "/database", "../x", "..", "a/../../x"} {
		if got, err := wsPath(bad); err == nil {
			t.Errorf("wsPath(%q) = %q, no error", bad, got)
		}
	}
}

func TestEndpointToken(t *testing.T) {
	s, err := newSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok := s.seal(tokenBody{Cred: "key", Sandbox: "sb1", Port: execdPort, Expires: now.Add(time.Hour).Unix()})
	if cred, err := s.open(tok, "sb1", execdPort, now); err != nil || cred != "key" {
		t.Fatalf("open = %q, %v", cred, err)
	}
	for name, check := range map[string]func() error{
		"another sandbox": func() error { _, err := s.open(tok, "sb2", execdPort, now); return err },
		"another port":    func() error { _, err := s.open(tok, "sb1", 8000, now); return err },
		"expired":         func() error { _, err := s.open(tok, "sb1", execdPort, now.Add(2*time.Hour)); return err },
		"tampered":        func() error { _, err := s.open(tok[:len(tok)-4]+"AAAA", "sb1", execdPort, now); return err },
		"empty":           func() error { _, err := s.open("", "sb1", execdPort, now); return err },
		"another key": func() error {
			k := make([]byte, 32)
			k[0] = 1
			o, _ := newSealer(k)
			_, err := o.open(tok, "sb1", execdPort, now)
			return err
		},
	} {
		if check() == nil {
			t.Errorf("%s: the token opened", name)
		}
	}
	if _, err := newSealer(make([]byte, 16)); err == nil {
		t.Error("a 16-byte key was taken")
	}
}

func TestExecRequest(t *testing.T) {
	uid := int32(0)
	cases := []struct {
		in   runCommand
		want []string
		ok   bool
	}{
		{runCommand{Command: "echo hi"}, []string{"sh", "-c", "echo hi"}, true},
		{runCommand{Command: "ls", Cwd: "/data/it's"}, []string{"sh", "-c", `cd '/data/it'\''s' && ls`}, true},
		{runCommand{Argv: []string{"/warder-agent", "ls"}}, []string{"/warder-agent", "ls"}, true},
		{runCommand{}, nil, false},
		{runCommand{Command: "a", Argv: []string{"b"}}, nil, false},
		{runCommand{Command: "a", UID: &uid}, nil, false},
		{runCommand{Command: "a", Timeout: -1}, nil, false},
	}
	for _, c := range cases {
		got, err := execRequest(c.in)
		if (err == nil) != c.ok || !slices.Equal(got.Cmd, c.want) {
			t.Errorf("execRequest(%+v) = %v, %v", c.in, got.Cmd, err)
		}
	}
	if got, _ := execRequest(runCommand{Command: "a", Timeout: 1500}); got.Timeout != "1.5s" {
		t.Errorf("timeout 1500 ms = %q", got.Timeout)
	}
	if got, _ := execRequest(runCommand{Command: "a", Background: true}); got.Timeout != "1h0m0s" {
		t.Errorf("a background command's timeout = %q", got.Timeout)
	}
}

func TestCommandOutputBound(t *testing.T) {
	c := &command{done: make(chan struct{})}
	c.write("abc")
	if out, next := c.since(1); out != "bc" || next != 3 {
		t.Errorf("since(1) = %q, %d", out, next)
	}
	big := make([]byte, maxKeptOutput)
	c.write(string(big))
	if len(c.out) != maxKeptOutput || c.dropped != 3 {
		t.Errorf("kept %d, dropped %d", len(c.out), c.dropped)
	}
	if out, next := c.since(0); len(out) != maxKeptOutput || next != maxKeptOutput+3 {
		t.Errorf("since(0) after the bound = %d bytes, %d", len(out), next)
	}
}
