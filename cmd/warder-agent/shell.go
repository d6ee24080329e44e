package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/term"
)

// warder-agent sh is a small shell for the default image, which has no
// other: `warder exec -it AGENT` opens it when the image has no /bin/sh,
// and command strings run through it (`warder-agent sh -c "echo hi"`).
// The language is in shellparse.go. Its own commands are cd, pwd, exit,
// export, unset, stty size, help, true and false; warder-agent's built-ins (ls,
// cat, echo, env, ...) run as programs of their own; any other command
// is looked for on $PATH. Every variable is exported.
//
//	warder-agent sh                   interactive on a terminal; else reads the script from stdin
//	warder-agent sh -c SCRIPT [NAME [ARG...]]   runs SCRIPT ($0 is NAME, $1... the ARGs)
//	warder-agent sh FILE [ARG...]     runs the script in FILE

// shellBuiltins are warder-agent's built-ins the shell offers as
// commands (the others are Warder's helpers').
var shellBuiltins = []string{"cat", "du", "echo", "env", "ln", "ls", "mkdir", "rm", "sleep", "tick", "write"}

// defaultPath is $PATH when the environment has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// shell is one run of warder-agent sh.
type shell struct {
	in        *os.File
	out, errw io.Writer
	self      string   // this program, to run its built-ins
	args      []string // $0, $1, ...
	status    int      // $?
	exit      *int     // set by the exit command
}

// shellMain is warder-agent sh ARGS.
func shellMain(args []string, in *os.File, out, errw io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		self = "/warder-agent"
	}
	sh := &shell{in: in, out: out, errw: errw, self: self, args: []string{"sh"}}
	if os.Getenv("PATH") == "" {
		os.Setenv("PATH", defaultPath)
	}
	switch {
	case len(args) > 0 && args[0] == "-c":
		if len(args) < 2 {
			fmt.Fprintln(errw, "sh: -c needs a script")
			return 2
		}
		if len(args) > 2 {
			sh.args = args[2:]
		}
		return sh.runScript(args[1])
	case len(args) > 0 && (args[0] == "-h" || args[0] == "--help"):
		fmt.Fprintln(out, "usage: warder-agent sh [-c SCRIPT [NAME [ARG...]] | FILE [ARG...]]")
		return 0
	case len(args) > 0:
		b, err := os.ReadFile(args[0])
		if err != nil {
			fmt.Fprintln(errw, "sh:", err)
			return 127
		}
		sh.args = args
		return sh.runScript(string(b))
	case term.IsTerminal(int(in.Fd())):
		return sh.interactive()
	}
	return sh.readScript()
}

// runScript runs src whole and returns the last status.
func (sh *shell) runScript(src string) int {
	cmds, err := parseScript(src)
	if err != nil {
		fmt.Fprintln(sh.errw, "sh:", err)
		return 2
	}
	sh.run(cmds)
	if sh.exit != nil {
		return *sh.exit
	}
	return sh.status
}

// readScript runs the lines of standard input (not a terminal) one by
// one, reading no further than each line, as sh does from a pipe.
func (sh *shell) readScript() int {
	for sh.exit == nil {
		line, err := readRawLine(sh.in)
		if line != "" {
			sh.runLine(line)
		}
		if err != nil {
			break
		}
	}
	if sh.exit != nil {
		return *sh.exit
	}
	return sh.status
}

// readRawLine reads up to a newline, a byte at a time.
func readRawLine(in io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for len(line) < maxLine {
		if _, err := io.ReadFull(in, b); err != nil {
			return string(line), err
		}
		if b[0] == '\n' {
			return string(line), nil
		}
		line = append(line, b[0])
	}
	return string(line), nil
}

// interactive reads lines at a prompt, in raw mode while reading (the
// line editor echoes), in the terminal's own mode while a command runs,
// so Ctrl-C there interrupts the command and not the shell.
func (sh *shell) interactive() int {
	fd := int(sh.in.Fd())
	ints := make(chan os.Signal, 1)
	signal.Notify(ints, syscall.SIGINT, syscall.SIGQUIT)
	defer signal.Stop(ints)
	fmt.Fprintf(sh.out, "warder-agent sh: a small shell (no pipes or redirections); type help for its commands, exit or Ctrl-D to leave\n")
	ed := &lineEditor{in: sh.in, out: sh.out}
	for sh.exit == nil {
		old, err := term.MakeRaw(fd)
		if err != nil {
			fmt.Fprintln(sh.errw, "sh:", err)
			return 1
		}
		line, err := ed.readLine(sh.prompt())
		term.Restore(fd, old)
		switch {
		case errors.Is(err, errInterrupted):
			sh.status = 130
			continue
		case err != nil:
			return sh.status
		}
		sh.runLine(line)
		drain(ints)
	}
	return *sh.exit
}

// drain empties the signal channel: a Ctrl-C meant for the command.
func drain(c chan os.Signal) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// prompt is the working directory and $.
func (sh *shell) prompt() string {
	wd, err := os.Getwd()
	if err != nil {
		wd = "?"
	}
	if home := os.Getenv("HOME"); home != "" && home != "/" && strings.HasPrefix(wd, home) {
		wd = "~" + strings.TrimPrefix(wd, home)
	}
	return wd + " $ "
}

// runLine parses and runs one line.
func (sh *shell) runLine(line string) {
	cmds, err := parseScript(line)
	if err != nil {
		fmt.Fprintln(sh.errw, "sh:", err)
		sh.status = 2
		return
	}
	sh.run(cmds)
}

// run runs cmds, each joined to the next by its op: after && the next
// runs if the status is 0, after || if it is not, after ; always.
func (sh *shell) run(cmds []shCommand) {
	prev := ";"
	for _, c := range cmds {
		if prev == ";" || prev == "&&" && sh.status == 0 || prev == "||" && sh.status != 0 {
			sh.status = sh.command(c)
			if sh.exit != nil {
				return
			}
		}
		prev = c.op
	}
}

// get is a variable's value.
func (sh *shell) get(name string) string {
	switch name {
	case "?":
		return strconv.Itoa(sh.status)
	case "#":
		return strconv.Itoa(len(sh.args) - 1)
	case "$":
		return strconv.Itoa(os.Getpid())
	}
	if n, err := strconv.Atoi(name); err == nil {
		if n < len(sh.args) {
			return sh.args[n]
		}
		return ""
	}
	return os.Getenv(name)
}

// command runs one simple command and returns its status.
func (sh *shell) command(c shCommand) int {
	var env []string
	words := c.words
	for len(words) > 0 {
		name, value, ok := assignment(words[0])
		if !ok {
			break
		}
		v, _ := value.expand(sh.get)
		env = append(env, name+"="+v)
		words = words[1:]
	}
	var argv []string
	for _, w := range words {
		if s, ok := w.expand(sh.get); ok {
			argv = append(argv, s)
		}
	}
	if len(argv) == 0 {
		for _, kv := range env { // NAME=VALUE alone sets the variable
			k, v, _ := strings.Cut(kv, "=")
			os.Setenv(k, v)
		}
		return 0
	}
	if code, ok := sh.own(argv); ok {
		return code
	}
	return sh.program(argv, env)
}

// own runs the shell's own commands; ok is false for any other.
func (sh *shell) own(argv []string) (code int, ok bool) {
	switch argv[0] {
	case "cd":
		dir := os.Getenv("HOME")
		if len(argv) > 1 {
			dir = argv[1]
		}
		if dir == "" {
			dir = "/"
		}
		if dir == "-" {
			dir = os.Getenv("OLDPWD")
		}
		old, _ := os.Getwd()
		if err := os.Chdir(dir); err != nil {
			fmt.Fprintln(sh.errw, "sh: cd:", errText(err))
			return 1, true
		}
		wd, _ := os.Getwd()
		os.Setenv("OLDPWD", old)
		os.Setenv("PWD", wd)
		return 0, true
	case "pwd":
		wd, err := os.Getwd()
		if err != nil {
			fmt.Fprintln(sh.errw, "sh: pwd:", err)
			return 1, true
		}
		fmt.Fprintln(sh.out, wd)
		return 0, true
	case "exit":
		code := sh.status
		if len(argv) > 1 {
			n, err := strconv.Atoi(argv[1])
			if err != nil {
				fmt.Fprintf(sh.errw, "sh: exit: %q is not a number\n", argv[1])
				n = 2
			}
			code = n & 0xff
		}
		sh.exit = &code
		return code, true
	case "export":
		for _, a := range argv[1:] {
			if k, v, found := strings.Cut(a, "="); found && validShName(k) {
				os.Setenv(k, v)
			} else if !validShName(k) {
				fmt.Fprintf(sh.errw, "sh: export: %q is not a variable name\n", a)
				return 1, true
			}
		}
		return 0, true
	case "unset":
		for _, a := range argv[1:] {
			os.Unsetenv(a)
		}
		return 0, true
	case "stty":
		// Only `stty size`: rows and columns, to see a terminal's size.
		cols, rows, err := term.GetSize(int(sh.in.Fd()))
		if len(argv) != 2 || argv[1] != "size" || err != nil {
			fmt.Fprintln(sh.errw, "sh: stty: only `stty size` on a terminal is in this small shell")
			return 1, true
		}
		fmt.Fprintln(sh.out, rows, cols)
		return 0, true
	case "true", ":":
		return 0, true
	case "false":
		return 1, true
	case "help":
		fmt.Fprintf(sh.out, "This shell's commands: cd [DIR], pwd, exit [N], export NAME=VALUE, unset NAME, stty size, help, true, false.\n"+
			"Built-ins: %s. Other programs are looked for on $PATH.\n"+
			"It has quotes, $NAME, ; && || and # comments; no pipes, redirections, globs or jobs.\n", strings.Join(shellBuiltins, ", "))
		return 0, true
	}
	return 0, false
}

// program runs argv as a child process: one of warder-agent's built-ins,
// or a program found on $PATH. Its status is its exit code, or 128 plus
// the signal that ended it.
func (sh *shell) program(argv, env []string) int {
	path, args := "", argv[1:]
	if i := sort.SearchStrings(shellBuiltins, argv[0]); i < len(shellBuiltins) && shellBuiltins[i] == argv[0] {
		path, args = sh.self, argv
	} else {
		p, err := lookPath(argv[0])
		if err != nil {
			fmt.Fprintf(sh.errw, "sh: %s: %s\n", argv[0], errText(err))
			if errors.Is(err, os.ErrPermission) {
				return 126
			}
			return 127
		}
		path = p
	}
	cmd := exec.Command(path, args...)
	if path != sh.self {
		cmd.Args[0] = argv[0]
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = sh.in, sh.out, sh.errw
	cmd.Env = append(os.Environ(), env...)
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	fmt.Fprintf(sh.errw, "sh: %s: %s\n", argv[0], errText(err))
	if errors.Is(err, os.ErrPermission) {
		return 126
	}
	return 127
}

// lookPath finds name as sh does: a name with a slash as it is, else on
// $PATH.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		st, err := os.Stat(name)
		switch {
		case err != nil:
			return "", err
		case st.IsDir() || st.Mode()&0o111 == 0:
			return "", os.ErrPermission
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errNotFound
}

var errNotFound = errors.New("not found")

// errText is err as a shell says it: "no such file or directory".
func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
