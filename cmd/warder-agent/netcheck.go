package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// fetch [-proxy PROXY_URL] URL: GET URL as the agent's own programs
// would, through the proxy its environment names (HTTP_PROXY,
// HTTPS_PROXY, NO_PROXY) or the one given, and print the status and the
// start of the body: what an agent may reach under its egress policy
// (docs/egress.md). Exit 0 on any answer, 1 when none came.
func builtinFetch(args []string, _ io.Reader, out, errw io.Writer) int {
	proxy := http.ProxyFromEnvironment
	if len(args) == 3 && args[0] == "-proxy" {
		u, err := url.Parse(args[1])
		if err != nil {
			fmt.Fprintln(errw, "fetch: -proxy:", err)
			return 2
		}
		proxy, args = http.ProxyURL(u), args[2:]
	}
	if len(args) != 1 {
		fmt.Fprintln(errw, "usage: fetch [-proxy PROXY_URL] URL")
		return 2
	}
	c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{Proxy: proxy}}
	resp, err := c.Get(args[0])
	if err != nil {
		fmt.Fprintln(out, "fetch:", err)
		return 1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
	fmt.Fprintf(out, "%d %s\n", resp.StatusCode, strings.TrimSpace(string(b)))
	return 0
}

// dns SERVER:PORT NAME: send one DNS question for NAME's A record over
// UDP straight to SERVER, bypassing every resolver, and say whether any
// reply came back within 3 s (exit 0: its rcode and how many answers) or
// not (1). It checks that an agent's raw DNS goes nowhere.
func builtinDNS(args []string, _ io.Reader, out, errw io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(errw, "usage: dns SERVER:PORT NAME")
		return 2
	}
	q, id, err := dnsQuestion(args[1])
	if err != nil {
		fmt.Fprintln(errw, "dns:", err)
		return 2
	}
	c, err := net.Dial("udp", args[0])
	if err != nil {
		fmt.Fprintln(out, "no answer:", err)
		return 1
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(q); err != nil {
		fmt.Fprintln(out, "no answer:", err)
		return 1
	}
	buf := make([]byte, 1500)
	for {
		n, err := c.Read(buf)
		if err != nil {
			fmt.Fprintln(out, "no answer:", err)
			return 1
		}
		if n >= 12 && binary.BigEndian.Uint16(buf) == id {
			// The header's rcode and answer count say whether a name came
			// back, or only a refusal (an echo of the question has none).
			fmt.Fprintf(out, "answered: %d bytes from %s, rcode %d, %d answers\n", n, args[0], buf[3]&0x0f, binary.BigEndian.Uint16(buf[6:]))
			return 0
		}
	}
}

// dnsQuestion is a DNS query for name's A record, and its id.
func dnsQuestion(name string) ([]byte, uint16, error) {
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	q := binary.BigEndian.AppendUint16(nil, id)
	q = append(q, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0) // recursion desired, one question
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 {
			return nil, 0, fmt.Errorf("%q is not a DNS name", name)
		}
		q = append(q, byte(len(label)))
		q = append(q, label...)
	}
	return append(q, 0, 0, 1, 0, 1), id, nil // end, type A, class IN
}

// udp-echo ADDR: send every datagram received on ADDR back to its
// sender, until killed: a stand-in for a DNS server in tests of what an
// agent can send.
func builtinUDPEcho(args []string, _ io.Reader, out, errw io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(errw, "usage: udp-echo ADDR")
		return 2
	}
	pc, err := net.ListenPacket("udp", args[0])
	if err != nil {
		fmt.Fprintln(errw, "udp-echo:", err)
		return 1
	}
	fmt.Fprintln(out, "udp-echo on", pc.LocalAddr())
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			fmt.Fprintln(errw, "udp-echo:", err)
			return 1
		}
		_, _ = pc.WriteTo(buf[:n], from)
	}
}
