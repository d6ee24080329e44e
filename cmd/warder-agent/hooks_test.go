package main

import (
	"context"
	"errors"
	"log"
	"strings"
	"testing"
	"time"
)

func TestParseHooks(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want hooks
	}{
		{"none", map[string]string{"PORT": "8000"}, hooks{}},
		{"allocate", map[string]string{envAllocateMB: "64"}, hooks{allocateMB: 64}},
		{"exit, default delay", map[string]string{envExitCode: "3"}, hooks{exit: true, exitCode: 3, exitAfter: time.Second}},
		{"exit 0 at once", map[string]string{envExitCode: "0", envExitAfter: "0s"}, hooks{exit: true}},
		{"exit after 200ms", map[string]string{envExitCode: "255", envExitAfter: "200ms"},
			hooks{exit: true, exitCode: 255, exitAfter: 200 * time.Millisecond}},
		{"echo", map[string]string{envEcho: "1"}, hooks{echo: true}},
		{"chat flood", map[string]string{envChatFlood: "event"}, hooks{chatFlood: "event"}},
		{"log flood", map[string]string{envLogFlood: "100x128"}, hooks{logFlood: logFlood{lines: 100, kib: 128}}},
		{"both", map[string]string{envAllocateMB: "1", envExitCode: "1"},
			hooks{allocateMB: 1, exit: true, exitCode: 1, exitAfter: time.Second}},
	}
	for _, tt := range tests {
		got, err := parseHooks(tt.env)
		if err != nil || got != tt.want {
			t.Errorf("%s: parseHooks = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	for _, env := range []map[string]string{
		{envAllocateMB: ""}, {envAllocateMB: "0"}, {envAllocateMB: "-5"}, {envAllocateMB: "64MB"},
		{envAllocateMB: "100000"}, {envExitCode: ""}, {envExitCode: "256"}, {envExitCode: "-1"},
		{envExitCode: "x"}, {envExitAfter: "1s"}, {envExitCode: "1", envExitAfter: "5"},
		{envExitCode: "1", envExitAfter: "-1s"}, {envEcho: "yes"}, {envEcho: ""},
		{envChatFlood: ""}, {envChatFlood: "lots"}, {envLogFlood: "100"}, {envLogFlood: "0x1"},
		{envLogFlood: "1x0"}, {envLogFlood: "10001x1"}, {envLogFlood: "1x65537"}, {envLogFlood: "10000x65536"},
	} {
		if h, err := parseHooks(env); err == nil {
			t.Errorf("parseHooks(%v) = %+v, want an error", env, h)
		}
	}
}

func TestAllocate(t *testing.T) {
	if n := len(allocate(3)); n != 3<<20 {
		t.Fatalf("allocate(3) has %d bytes, want 3 MiB", n)
	}
}

// TestServeExitKnob: the exit knob makes serve return the exit code after
// the delay, having logged why, without waiting for a signal.
func TestServeExitKnob(t *testing.T) {
	var logs syncBuffer
	start := time.Now()
	err := serve(context.Background(), log.New(&logs, "", 0),
		[]string{"PORT=" + freePort(t), envExitCode + "=3", envExitAfter + "=100ms", envAllocateMB + "=2"})
	var code exitCode
	if !errors.As(err, &code) || code != 3 {
		t.Fatalf("serve = %v, want exit code 3", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 5*time.Second {
		t.Errorf("serve returned after %v, want about 100ms", d)
	}
	out := logs.String()
	for _, want := range []string{"warder-agent starting", "warder-agent exiting with code 3 (WARDER_AGENT_EXIT_CODE)"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
}

func TestServeRejectsBadKnob(t *testing.T) {
	var logs syncBuffer
	err := serve(context.Background(), log.New(&logs, "", 0), []string{"PORT=" + freePort(t), envAllocateMB + "=lots"})
	if err == nil || !strings.Contains(err.Error(), envAllocateMB) {
		t.Fatalf("serve = %v, want an error naming %s", err, envAllocateMB)
	}
}
