package main

import (
	"net"
	"testing"
)

func TestProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if code := probe([]string{addr}); code != 0 {
		t.Fatalf("probe of a listener = %d", code)
	}
	l.Close()
	if code := probe([]string{addr}); code != 1 {
		t.Fatalf("probe of a closed port = %d", code)
	}
	if code := probe(nil); code != 2 {
		t.Fatalf("probe without an address = %d", code)
	}
}
