package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/internal/testkit/testenv"
	"github.com/warder/warder/wire"
)

// tmux is a terminal the test types into and reads, as a person would.
type tmux struct {
	t       *testing.T
	session string
}

func newTmux(t *testing.T, env []string) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("WARDER_REQUIRE_DOCKER") == "1" {
			t.Fatal("the terminal check needs tmux (apt-get install tmux; .ci/run installs it)")
		}
		t.Skip("tmux is not installed")
	}
	m := &tmux{t: t, session: testenv.UniqueName("warder-term-")}
	args := append([]string{"new-session", "-d", "-s", m.session, "-x", "150", "-y", "30", "env"}, env...)
	args = append(args, "bash", "--norc", "--noprofile")
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", m.session).Run() })
	m.keys("export PS1='$ '; clear", "Enter")
	return m
}

func (m *tmux) keys(keys ...string) {
	m.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"send-keys", "-t", m.session}, keys...)...).CombinedOutput(); err != nil {
		m.t.Fatalf("tmux send-keys: %v %s", err, out)
	}
}

func (m *tmux) screen() string {
	out, _ := exec.Command("tmux", "capture-pane", "-p", "-J", "-t", m.session).Output()
	return string(out)
}

// wait returns the screen once ok holds of it, failing after within.
func (m *tmux) wait(within time.Duration, what string, ok func(string) bool) string {
	m.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := m.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("the terminal never showed %s:\n%s", what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTerminal runs the warder binary in a real terminal (tmux): the
// live stats table redraws in place with fresh samples (in MiB), an
// interactive chat prompts, streams each answer and ends on an empty
// line, and the CLI's manners show as a person sees them: a mistyped
// command is one line with a suggestion (exit 2), exec -it opens the
// default image's own shell (see execInteractive), rm refuses a running agent
// without -f (exit 7), --version is one line, and ls shows why an
// agent ended.
func TestTerminal(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "warder")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/warder/warder/cmd/warder").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v %s", err, out)
	}
	anon := client.New(ts.URL, "")
	if _, err := anon.Register(ctx, wire.RegisterRequest{Username: "alice", Email: "alice@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	tok, err := anon.Login(ctx, "alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	c := anon.WithToken(tok.AccessToken)
	if _, err := c.CreateAgent(ctx, wire.AgentCreate{Name: "helper", ContainerConfig: warder.ContainerConfig{MemoryLimit: "64m", AutoStart: true}}); err != nil {
		t.Fatal(err)
	}
	term := newTmux(t, []string{"WARDER_URL=" + ts.URL, "WARDER_TOKEN=" + tok.AccessToken, "XDG_CONFIG_HOME=" + t.TempDir()})

	term.keys(bin+" agents stats", "Enter")
	first := term.wait(20*time.Second, "the stats table", func(s string) bool {
		return strings.Contains(s, "MEM USAGE / LIMIT") && strings.Contains(s, "/ 64MiB")
	})
	time.Sleep(2500 * time.Millisecond)
	later := term.screen()
	if strings.Count(later, "MEM USAGE / LIMIT") != 1 || strings.Count(later, "helper") != 1 || strings.Contains(later, "$ ") {
		t.Fatalf("the stats table is not redrawn in place:\n%s", later)
	}
	if !strings.HasPrefix(strings.TrimSpace(first), "AGENT ID") {
		t.Fatalf("the stats table is not at the top of the screen:\n%s", first)
	}
	term.keys("C-c")
	term.wait(10*time.Second, "the prompt after Ctrl-C", func(s string) bool { return strings.HasSuffix(strings.TrimSpace(s), "$") })

	term.keys("clear; "+bin+" agents chat helper; echo exit=$?", "Enter")
	term.wait(20*time.Second, "the chat's prompt", func(s string) bool { return strings.Contains(s, "Chatting with helper") && strings.Contains(s, "\n>") })
	term.keys("Hello there", "Enter")
	term.wait(30*time.Second, "the first answer", func(s string) bool { return strings.Contains(s, `You said: "Hello there"`) })
	term.keys("And again", "Enter")
	prompts := func(s string) int {
		n := 0
		for _, line := range strings.Split(s, "\n") {
			if strings.HasPrefix(line, ">") {
				n++
			}
		}
		return n
	}
	term.wait(30*time.Second, "the second answer, in the same conversation, and a prompt for a third", func(s string) bool {
		return strings.Contains(s, `You said: "And again"`) && strings.Contains(s, "2 earlier messages") && prompts(s) == 3
	})
	term.keys("Enter")
	term.wait(10*time.Second, "the chat ending on an empty line", func(s string) bool { return strings.Contains(s, "exit=0") })

	// shell runs a command line on a clean screen and returns the screen
	// once the shell has printed its exit code.
	exited := regexp.MustCompile(`(?m)^exit=\d+`)
	shell := func(within time.Duration, line string) string {
		term.keys("clear", "Enter")
		term.wait(10*time.Second, "a clean screen", func(s string) bool { return strings.TrimSpace(s) == "$" })
		term.keys(line+"; echo exit=$?", "Enter")
		return term.wait(within, line, exited.MatchString)
	}
	s := shell(10*time.Second, bin+" agnets ls")
	if !strings.Contains(s, `unknown command "agnets" (did you mean "agents"?)`) || !strings.Contains(s, "exit=2") || strings.Contains(s, "usage:") {
		t.Fatalf("a mistyped command:\n%s", s)
	}
	execInteractive(t, term, bin)
	s = shell(10*time.Second, bin+" agents rm helper")
	if !strings.Contains(s, "helper is running: stop it first") || !strings.Contains(s, "exit=7") {
		t.Fatalf("rm of a running agent:\n%s", s)
	}
	s = shell(60*time.Second, bin+" --version; "+bin+" agents stop helper >/dev/null; "+bin+" agents ls")
	if !strings.Contains(s, "warder version ") || !regexp.MustCompile(`helper +stopped( \(\d+\))? (a second|\d+ seconds) ago`).MatchString(s) || !strings.Contains(s, "REASON") {
		t.Fatalf("--version and ls:\n%s", s)
	}
}
