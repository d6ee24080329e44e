package cli

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"golang.org/x/term"
)

// wantsTTY says exec's flags (before the agent) ask for a terminal: -t,
// -it, -ti or --tty, as docker spells them.
func wantsTTY(args []string) bool {
	for _, a := range args {
		switch a {
		case "-t", "--t", "-tty", "--tty", "-it", "-ti", "--it", "--ti":
			return true
		case "--":
			return false
		}
		if len(a) == 0 || a[0] != '-' {
			return false // the agent: what follows is the command's
		}
	}
	return false
}

// execTTY is warder exec -t / -it: the command (the agent's shell when
// none is named) runs with a terminal through the terminal WebSocket.
// With -i what is typed goes to it, the local terminal in raw mode so
// Ctrl-C and Ctrl-D go to the command too, and each resize (SIGWINCH)
// follows; the command's exit code is ours. As docker does, -i with -t
// needs a terminal on standard input; -t alone sends no input. The
// output is written as it comes, escape sequences and all: it is a
// terminal's.
//
//	warder exec -it [-e KEY=VAL]... AGENT [--] [CMD [ARG...]]
func (c *CLI) execTTY(ctx context.Context, args []string) error {
	fs := c.flags("exec", "exec -it AGENT [--] [CMD [ARG...]]")
	var in, tty bool
	fs.BoolVar(&in, "i", false, "send what is typed to the command")
	fs.BoolVar(&tty, "t", false, "give the command a terminal")
	fs.BoolVar(&tty, "tty", false, "as -t")
	var expanded []string
	for i, a := range args {
		if a == "--" || len(a) == 0 || a[0] != '-' {
			expanded = append(expanded, args[i:]...)
			break
		}
		switch a {
		case "-it", "-ti", "--it", "--ti":
			expanded = append(expanded, "-i", "-t")
		default:
			expanded = append(expanded, a)
		}
	}
	if err := fs.Parse(expanded); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("exec: %v (see warder exec -h; -e and --timeout are not for -t)", err)
	}
	rest := fs.Args()
	if len(rest) > 1 && rest[1] == "--" {
		rest = append(rest[:1:1], rest[2:]...)
	}
	if len(rest) < 1 {
		return usagef("exec -it needs an agent: warder exec -it AGENT [CMD...]")
	}
	stdin, _ := c.Stdin.(*os.File)
	if in && (stdin == nil || !term.IsTerminal(int(stdin.Fd()))) {
		return &exitCode{code: 1, msg: "the input device is not a TTY: use -i without -t to send standard input"}
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	a, err := resolveOne(ctx, cl, rest[0])
	if err != nil {
		return err
	}
	size := func() warder.TermSize {
		for _, f := range []any{c.Stdout, c.Stdin} {
			if f, ok := f.(*os.File); ok {
				if w, h, err := term.GetSize(int(f.Fd())); err == nil && w > 0 && h > 0 {
					return warder.TermSize{Cols: uint16(min(w, warder.MaxTermCells)), Rows: uint16(min(h, warder.MaxTermCells))}
				}
			}
		}
		return warder.DefaultTermSize
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t, err := cl.Terminal(ctx, a.ID, client.TerminalRequest{Cmd: rest[1:], Size: size()})
	if err != nil {
		return err
	}
	defer t.Close()
	if in {
		old, err := term.MakeRaw(int(stdin.Fd()))
		if err != nil {
			return err
		}
		defer term.Restore(int(stdin.Fd()), old)
		go func() {
			// Ends with the process; a read in flight holds nothing.
			io.Copy(t, stdin)
		}()
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-winch:
				t.Resize(size())
			}
		}
	}()
	end, err := t.Run(c.Stdout)
	switch {
	case err != nil:
		return err
	case end.Reason == warder.TerminalIdle:
		return &exitCode{code: end.ExitCode, msg: "\r\nthe terminal was closed after its idle timeout"}
	case end.Reason == warder.TerminalMaxAge:
		return &exitCode{code: end.ExitCode, msg: "\r\nthe terminal was closed at the longest session allowed"}
	case end.ExitCode != 0:
		return &exitCode{code: end.ExitCode}
	}
	return nil
}
