package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"runtime"
	"strconv"
	"time"
)

// The test and diagnostic knobs; see the package doc.
const (
	envAllocateMB = "WARDER_AGENT_ALLOCATE_MB"
	envExitCode   = "WARDER_AGENT_EXIT_CODE"
	envExitAfter  = "WARDER_AGENT_EXIT_AFTER"
	envEcho       = "WARDER_AGENT_ECHO"
	envChatFlood  = "WARDER_AGENT_CHAT_FLOOD"
	envLogFlood   = "WARDER_AGENT_LOG_FLOOD"
)

// maxAllocateMB keeps a typo from asking for more than any agent has.
const maxAllocateMB = 64 << 10

// hooks is what the knobs ask for. The zero value asks for nothing.
type hooks struct {
	allocateMB int           // allocate and hold this much after start-up
	exit       bool          // exit with exitCode after exitAfter
	exitCode   int           // 0-255
	exitAfter  time.Duration // default 1 s
	echo       bool          // serve /echo/
	chatFlood  string        // answer chats with a flood of this kind
	logFlood   logFlood      // write these lines at start-up
}

// parseHooks reads the knobs from env. A knob that is set but malformed is
// an error: a test that asks for an OOM must not get a healthy agent.
func parseHooks(env map[string]string) (hooks, error) {
	var h hooks
	if s, ok := env[envAllocateMB]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxAllocateMB {
			return hooks{}, fmt.Errorf("%s=%q must be a number of MiB from 1 to %d", envAllocateMB, s, maxAllocateMB)
		}
		h.allocateMB = n
	}
	if s, ok := env[envExitCode]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 255 {
			return hooks{}, fmt.Errorf("%s=%q must be an exit code from 0 to 255", envExitCode, s)
		}
		h.exit, h.exitCode, h.exitAfter = true, n, time.Second
	}
	if s, ok := env[envEcho]; ok {
		if s != "1" {
			return hooks{}, fmt.Errorf("%s=%q must be 1 (or unset)", envEcho, s)
		}
		h.echo = true
	}
	if s, ok := env[envChatFlood]; ok {
		if !chatFloods[s] {
			return hooks{}, fmt.Errorf("%s=%q must be event, line, pieces or json", envChatFlood, s)
		}
		h.chatFlood = s
	}
	if s, ok := env[envLogFlood]; ok {
		f, err := parseLogFlood(s)
		if err != nil {
			return hooks{}, fmt.Errorf("%s=%q %v", envLogFlood, s, err)
		}
		h.logFlood = f
	}
	if s, ok := env[envExitAfter]; ok {
		d, err := time.ParseDuration(s)
		switch {
		case !h.exit:
			return hooks{}, fmt.Errorf("%s is set without %s", envExitAfter, envExitCode)
		case err != nil || d < 0:
			return hooks{}, fmt.Errorf("%s=%q must be a duration such as 200ms", envExitAfter, s)
		}
		h.exitAfter = d
	}
	return h, nil
}

// exitCode is serve's way of asking main to exit with a given code.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit code %d", int(c)) }

// exitTimer fires when the exit knob says to exit; nil (never) without it.
func (h hooks) exitTimer() (<-chan time.Time, func()) {
	if !h.exit {
		return nil, func() {}
	}
	t := time.NewTimer(h.exitAfter)
	return t.C, func() { t.Stop() }
}

// hold allocates the knob's memory, touches every page so the kernel
// really hands it over (and a lower memory limit OOM-kills the process),
// and keeps it until ctx ends.
func (h hooks) hold(ctx context.Context, logger *log.Logger) {
	if h.allocateMB == 0 {
		return
	}
	logger.Printf("warder-agent allocating %d MiB (%s)", h.allocateMB, envAllocateMB)
	buf := allocate(h.allocateMB)
	logger.Printf("warder-agent holds %d MiB", h.allocateMB)
	<-ctx.Done()
	runtime.KeepAlive(buf)
}

// allocate returns mb MiB with every page written: a fresh allocation is
// only address space until then.
func allocate(mb int) []byte {
	buf := make([]byte, mb<<20)
	for i := 0; i < len(buf); i += os.Getpagesize() {
		buf[i] = 1
	}
	return buf
}
