package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// execInteractive is TestTerminal's warder exec -it, typed into tmux as
// a person would: with no command it opens the default image's own
// shell (warder-agent sh) at the terminal's size, which answers what is
// typed, follows a resize, clears a line at Ctrl-C and ends at exit with
// its code as the CLI's; Ctrl-D at an empty prompt ends it too (exit 0);
// -it with standard input not a terminal is refused as docker does.
func execInteractive(t *testing.T, term *tmux, bin string) {
	t.Helper()
	clean := func() {
		term.keys("clear", "Enter")
		term.wait(10*time.Second, "a clean screen", func(s string) bool { return strings.TrimSpace(s) == "$" })
	}
	prompt := func(s string) bool { return strings.HasSuffix(strings.TrimSpace(s), "/ $") }
	dataPrompt := func(s string) bool { return strings.HasSuffix(strings.TrimSpace(s), "/data $") }
	clean()
	term.keys(bin+" exec -it helper; echo exit=$?", "Enter")
	term.wait(30*time.Second, "the agent's shell", func(s string) bool { return strings.Contains(s, "warder-agent sh:") && prompt(s) })
	term.keys(`X=typed; echo "hi $X" && cd /data && pwd`, "Enter")
	term.wait(10*time.Second, "the shell's answer", func(s string) bool { return strings.Contains(s, "\nhi typed\n/data\n") })
	term.keys("stty size", "Enter")
	term.wait(10*time.Second, "the terminal's size", func(s string) bool { return strings.Contains(s, "\n30 150\n") })
	if out, err := exec.Command("tmux", "resize-window", "-t", term.session, "-x", "120", "-y", "25").CombinedOutput(); err != nil {
		t.Fatalf("tmux resize-window: %v %s", err, out)
	}
	defer exec.Command("tmux", "resize-window", "-t", term.session, "-x", "150", "-y", "30").Run()
	deadline := time.Now().Add(10 * time.Second)
	for {
		term.keys("stty size", "Enter")
		time.Sleep(300 * time.Millisecond)
		if strings.Contains(term.screen(), "\n25 120\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resize never reached the agent's terminal:\n%s", term.screen())
		}
	}
	term.keys("echo never run", "C-c")
	term.wait(10*time.Second, "Ctrl-C clearing the line", func(s string) bool { return strings.Contains(s, "echo never run^C") && dataPrompt(s) })
	term.keys("exit 3", "Enter")
	s := term.wait(20*time.Second, "exit's code as the CLI's", func(s string) bool { return strings.Contains(s, "exit=3") })
	if strings.Contains(s, "never run\n") {
		t.Fatalf("a line cleared with Ctrl-C ran:\n%s", s)
	}

	clean()
	term.keys(bin+" exec -it helper; echo exit=$?", "Enter")
	term.wait(30*time.Second, "the agent's shell again", prompt)
	term.keys("C-d")
	term.wait(20*time.Second, "Ctrl-D ending the shell", func(s string) bool { return strings.Contains(s, "exit=0") })

	clean()
	term.keys("echo | "+bin+" exec -it helper; echo exit=$?", "Enter")
	term.wait(20*time.Second, "-it without a terminal refused", func(s string) bool {
		return strings.Contains(s, "the input device is not a TTY") && strings.Contains(s, "exit=1")
	})
}
