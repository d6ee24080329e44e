package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// TestParseScript: words, quotes, escapes, variables and operators, as
// the commands they make once expanded.
func TestParseScript(t *testing.T) {
	vars := map[string]string{"X": "ex", "HOME": "/home/a", "EMPTY": "", "?": "3", "1": "one"}
	get := func(n string) string { return vars[n] }
	for _, tc := range []struct {
		src  string
		want string // commands as argv|op; argv joined by ","
	}{
		{"echo hi", "echo,hi|"},
		{"  echo   a\tb  ", "echo,a,b|"},
		{"echo 'a b' \"c d\"", "echo,a b,c d|"},
		{`echo a\ b \$X`, "echo,a b,$X|"},
		{`echo "$X-${X}y" '$X'`, "echo,ex-exy,$X|"},
		{`echo "a\"b\\c\d"`, `echo,a"b\c\d|`},
		{"echo $EMPTY x", "echo,x|"},
		{`echo "$EMPTY" x`, "echo,,x|"},
		{"echo $? $1 $", "echo,3,one,$|"},
		{"echo ~ ~/d a~", "echo,/home/a,/home/a/d,a~|"},
		{"a; b && c || d", "a|;  b|&&  c|||  d|"},
		{"a;b&&c", "a|;  b|&&  c|"},
		{"a\nb\n\n", "a|;  b|"},
		{"a &&\nb", "a|&&  b|"},
		{"echo hi # a comment", "echo,hi|"},
		{"# only a comment", ""},
		{"", ""},
		{"a;", "a|"},
		{"X=1 Y='2 3' env", "X=1,Y=2 3,env|"},
		{`echo "it's"`, "echo,it's|"},
		{"echo a\\\nb", "echo,ab|"},
	} {
		cmds, err := parseScript(tc.src)
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		var got []string
		for _, c := range cmds {
			var argv []string
			for _, w := range c.words {
				if s, ok := w.expand(get); ok {
					argv = append(argv, s)
				}
			}
			got = append(got, strings.Join(argv, ",")+"|"+c.op)
		}
		if g := strings.Join(got, "  "); g != tc.want {
			t.Errorf("%q = %q, want %q", tc.src, g, tc.want)
		}
	}
}

// TestParseScriptErrors: what the shell cannot read is a syntax error
// that says what, never a command run with the rest taken literally.
func TestParseScriptErrors(t *testing.T) {
	for _, tc := range []struct{ src, says string }{
		{"echo 'open", "' is not closed"},
		{`echo "open`, `" is not closed`},
		{"echo ${X", "${ is not closed"},
		{"echo ${X:-y}", "only ${NAME}"},
		{"echo $(id)", "command substitution"},
		{"echo `id`", "not in this small shell"},
		{"ls | wc", "pipes"},
		{"echo > f", "redirections"},
		{"sleep 1 &", "background"},
		{"&& a", `"&&" with no command before it`},
		{"a ;; b", `";" with no command before it`},
		{"; a", `";" with no command before it`},
		{"a ||", `ends after "||"`},
	} {
		_, err := parseScript(tc.src)
		var se *shSyntaxError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%q: %v, want a syntax error saying %q", tc.src, err, tc.says)
		}
	}
}

// TestAssignment: NAME=VALUE words, and words that only look like them.
func TestAssignment(t *testing.T) {
	for src, want := range map[string]string{"A=1": "A=1", "A_2=x=y": "A_2=x=y", "A=": "A=", "1A=x": "", "=x": "", "a": "", "$X=1": "", "A='b c'": "A=b c"} {
		cmds, err := parseScript(src)
		if err != nil {
			t.Fatal(src, err)
		}
		name, value, ok := assignment(cmds[0].words[0])
		got := ""
		if ok {
			v, _ := value.expand(func(string) string { return "" })
			got = name + "=" + v
		}
		if got != want {
			t.Errorf("%q = %q, want %q", src, got, want)
		}
	}
}

// TestMain lets the test binary be warder-agent itself for the shell's
// tests: the shell runs its built-ins as its own executable.
func TestMain(m *testing.M) {
	if os.Getenv("WARDER_AGENT_TEST_AS_AGENT") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// runSh runs warder-agent sh ARGS (this test binary as warder-agent) with
// stdin, returning its output and exit code.
func runSh(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, append([]string{"sh"}, args...)...)
	cmd.Env = append(os.Environ(), "WARDER_AGENT_TEST_AS_AGENT=1", "HOME=/")
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// TestShellRuns: sh -c runs built-ins and programs, keeps variables and
// the working directory from one command to the next, follows && and
// ||, and exits with exit's code or the last status; sh with a script on
// stdin stops reading at exit.
func TestShellRuns(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		stdin string
		args  []string
		out   string
		code  int
	}{
		{"", []string{"-c", "echo hi"}, "hi\n", 0},
		{"", []string{"-c", `X='a b'; echo "[$X]" && false || echo "no $?"`}, "[a b]\nno 1\n", 0},
		{"", []string{"-c", "cd " + dir + " && pwd && write f && cat f && cd - >/dev/null"}, "", 2},
		{"written\n", []string{"-c", "cd " + dir + " && pwd && write f && cat f"}, dir + "\nwritten\n", 0},
		{"", []string{"-c", "exit 3; echo not here"}, "", 3},
		{"", []string{"-c", "false"}, "", 1},
		{"", []string{"-c", "no-such-program"}, "sh: no-such-program: not found\n", 127},
		{"", []string{"-c", "echo $0 $1 $#", "name", "first"}, "name first 1\n", 0},
		{"", []string{"-c", "Y=1 env | x"}, "", 2},
		{"", []string{"-c", "Y=inline env"}, "Y=inline", 0},
		{"echo one\nexit 4\necho two\n", nil, "one\n", 4},
		{"", []string{"-c", "sleep 0 && echo slept"}, "slept\n", 0},
	} {
		out, code := runSh(t, tc.stdin, tc.args...)
		if code != tc.code || (tc.out != "" && !strings.Contains(out, tc.out)) || (tc.code == 2 && !strings.Contains(out, "syntax error")) {
			t.Errorf("sh %q <%q: %q exit %d, want %q exit %d", tc.args, tc.stdin, out, code, tc.out, tc.code)
		}
	}
}

// TestLineEditor: backspace takes back a character, Ctrl-U the line,
// Ctrl-C abandons it, Ctrl-D ends an empty one, arrow keys are ignored,
// and nothing after Enter is read.
func TestLineEditor(t *testing.T) {
	in := strings.NewReader("ab\x7fc\x1b[Dd\rrest")
	var out bytes.Buffer
	ed := &lineEditor{in: in, out: &out}
	line, err := ed.readLine("$ ")
	if err != nil || line != "acd" {
		t.Fatalf("line %q %v", line, err)
	}
	if rest, _ := io.ReadAll(in); string(rest) != "rest" {
		t.Fatalf("read past the line: left %q", rest)
	}
	if !strings.HasPrefix(out.String(), "$ ab\b \bc") {
		t.Fatalf("echo %q", out.String())
	}
	// A CRLF ends one line, not two.
	ed = &lineEditor{in: strings.NewReader("one\r\ntwo\r"), out: io.Discard}
	if l1, _ := ed.readLine(""); l1 != "one" {
		t.Fatalf("first line %q", l1)
	}
	if l2, _ := ed.readLine(""); l2 != "two" {
		t.Fatalf("the line after a CRLF: %q", l2)
	}
	for _, tc := range []struct {
		in   string
		line string
		err  error
	}{
		{"abc\x15x\n", "x", nil},
		{"abc\x03", "", errInterrupted},
		{"\x04", "", io.EOF},
		{"a\x04b\r", "ab", nil},
		{"\r\nx\n", "", nil},
	} {
		ed := &lineEditor{in: strings.NewReader(tc.in), out: io.Discard}
		line, err := ed.readLine("")
		if line != tc.line || !reflect.DeepEqual(err, tc.err) {
			t.Errorf("%q: %q %v, want %q %v", tc.in, line, err, tc.line, tc.err)
		}
	}
}
