package cli

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/wire"
)

// maxExecStdin bounds what exec -i reads: the request carries it in its
// JSON body, which the server caps at 1 MiB.
const maxExecStdin = 512 << 10

// remote splits "AGENT:PATH"; ok is false for a local path (one with no
// colon, or a slash before it: ./a:b).
func remote(arg string) (agent, p string, ok bool) {
	i := strings.IndexByte(arg, ':')
	if i <= 0 || strings.ContainsRune(arg[:i], '/') {
		return "", "", false
	}
	return arg[:i], strings.TrimPrefix(arg[i+1:], warder.WorkspaceMountPath+"/"), true
}

// cp copies between the local disk and an agent's workspace, either way:
//
//	warder cp FILE AGENT:PATH        the file as PATH (or into PATH/ when it ends in /)
//	warder cp DIR AGENT:PATH         DIR, by its name, into directory PATH
//	warder cp - AGENT:PATH           a tar on stdin, extracted into directory PATH
//	warder cp AGENT:PATH DEST        a file to DEST (or into DEST when a directory), a directory into DEST
//	warder cp AGENT:PATH -           a tar of PATH on stdout
func (c *CLI) cp(ctx context.Context, args []string) error {
	fs := c.flags("cp", "cp SRC DEST   (one of them AGENT:PATH, a path in the agent's workspace /data)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("cp needs a source and a destination, one of them AGENT:PATH")
	}
	srcAgent, srcPath, fromAgent := remote(pos[0])
	dstAgent, dstPath, toAgent := remote(pos[1])
	if fromAgent == toAgent {
		return usagef("cp copies between this machine and an agent: exactly one of SRC and DEST is AGENT:PATH")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	if toAgent {
		a, err := resolveOne(ctx, cl, dstAgent)
		if err != nil {
			return err
		}
		return c.upload(ctx, a.ID, pos[0], dstPath)
	}
	a, err := resolveOne(ctx, cl, srcAgent)
	if err != nil {
		return err
	}
	return c.download(ctx, a.ID, srcPath, pos[1])
}

func (c *CLI) upload(ctx context.Context, agentID, src, dst string) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	if src == "-" {
		w, err := cl.WriteTar(ctx, agentID, dst, c.Stdin)
		if err == nil {
			fmt.Fprintf(c.Stdout, "%d files, %d bytes into /data/%s\n", w.Files, w.Bytes, escape(w.Path))
		}
		return err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		if dst == "" || strings.HasSuffix(dst, "/") {
			dst += filepath.Base(src)
		}
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		w, err := cl.WriteFile(ctx, agentID, dst, f)
		if err == nil {
			fmt.Fprintf(c.Stdout, "%d bytes to /data/%s\n", w.Bytes, escape(w.Path))
		}
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarDir(pw, src, c.Stderr)) }()
	w, err := cl.WriteTar(ctx, agentID, dst, pr)
	pr.Close()
	if err == nil {
		fmt.Fprintf(c.Stdout, "%d files, %d bytes into /data/%s\n", w.Files, w.Bytes, escape(w.Path))
	}
	return err
}

// tarDir writes dir and what is under it as a tar, named from dir's own
// name; links and special files are skipped (the server takes neither).
func tarDir(w io.Writer, dir string, warn io.Writer) error {
	tw := tar.NewWriter(w)
	base := filepath.Dir(filepath.Clean(dir))
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()})
		case !info.Mode().IsRegular():
			fmt.Fprintf(warn, "warder: skipping %s: not a regular file\n", escape(p))
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: int64(info.Mode().Perm()), Size: info.Size(), ModTime: info.ModTime()}); err != nil {
			return err
		}
		_, err = io.CopyN(tw, f, info.Size())
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func (c *CLI) download(ctx context.Context, agentID, src, dst string) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	rc, err := cl.ReadTar(ctx, agentID, src)
	if err != nil {
		return err
	}
	defer rc.Close()
	if dst == "-" {
		if c.Terminal() {
			return usagef("cp AGENT:PATH - writes a tar, which a terminal would take for commands; redirect it: warder cp AGENT:PATH - > files.tar")
		}
		_, err := io.Copy(c.Stdout, rc)
		return err
	}
	return untar(rc, dst)
}

// untar writes the tar r under directory dst, or, for a tar of one
// file and a dst that is not a directory, as dst itself. Names that
// would leave dst, and links, are refused: the tar comes from a server.
func untar(r io.Reader, dst string) error {
	tr := tar.NewReader(bufio.NewReader(r))
	first := true
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean("/" + h.Name)[1:]
		if name == "" || strings.HasPrefix(h.Name, "/") || strings.Contains("/"+h.Name+"/", "/../") {
			return fmt.Errorf("the tar names %q, outside the destination", h.Name)
		}
		target := filepath.Join(dst, filepath.FromSlash(name))
		if first && h.Typeflag == tar.TypeReg {
			if fi, err := os.Stat(dst); errors.Is(err, fs.ErrNotExist) || err == nil && !fi.IsDir() {
				target = dst // a file copied to a file's name
			}
		}
		first = false
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(h.Mode).Perm()|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			os.Chtimes(target, time.Now(), h.ModTime)
		}
		// Links and anything else are left out.
	}
}

// exec runs a command in an agent, its output on ours, and ends with
// its exit code (or 124 when it was killed at its timeout):
//
//	warder exec [-i] [-e KEY=VAL]... [--timeout 30s] AGENT [--] CMD [ARG...]
func (c *CLI) exec(ctx context.Context, args []string) error {
	if wantsTTY(args) {
		return c.execTTY(ctx, args) // exectty.go
	}
	fs := c.flags("exec", "exec [-i] [-e KEY=VAL]... [--timeout 30s] [--raw] AGENT [--] CMD [ARG...]")
	stdin := fs.Bool("i", false, "send standard input to the command (at most 512 KiB)")
	raw := fs.Bool("raw", false, "write the command's output as it is, escape sequences and all, even to a terminal")
	timeout := fs.String("timeout", "", "kill the command after this long (default 1m, at most 1h)")
	var envs multi
	fs.Var(&envs, "e", "an environment variable KEY=VAL for the command (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return err
		}
		return usagef("exec: %v (see warder exec -h)", err)
	}
	rest := fs.Args()
	if len(rest) > 1 && rest[1] == "--" {
		rest = append(rest[:1:1], rest[2:]...)
	}
	if len(rest) < 2 {
		return usagef("exec needs an agent and a command: warder exec AGENT /warder-agent ls /data")
	}
	req := wire.ExecRequest{Cmd: rest[1:], Timeout: *timeout}
	for _, kv := range envs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return usagef("exec: -e %q must be KEY=VAL", kv)
		}
		if req.Env == nil {
			req.Env = map[string]string{}
		}
		req.Env[k] = v
	}
	if *stdin {
		b, err := io.ReadAll(io.LimitReader(c.Stdin, maxExecStdin+1))
		if err != nil {
			return err
		}
		if len(b) > maxExecStdin {
			return usagef("exec -i: standard input is over 512 KiB; copy it into the workspace with warder cp instead")
		}
		req.Stdin = string(b)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	a, err := resolveOne(ctx, cl, rest[0])
	if err != nil {
		return err
	}
	res, err := cl.Exec(ctx, a.ID, req, func(stream, data string) error {
		w := c.Stdout
		if stream == warder.StreamStderr {
			w = c.Stderr
		}
		_, err := io.WriteString(w, c.outputFor(stream == warder.StreamStderr, *raw)(data))
		return err
	})
	switch {
	case err != nil:
		return err
	case res.TimedOut:
		return &exitCode{code: 124, msg: "the command was killed at its timeout"}
	case (res.ExitCode == 126 || res.ExitCode == 127) && req.Cmd[0] != "/warder-agent":
		// The runtime could not run the command: not in the image, or
		// not executable. The default image has no shell.
		return &exitCode{code: res.ExitCode, msg: fmt.Sprintf("%s could not be run in %s (exit %d: not found in its image, or not executable). "+
			"The default image has no shell; its built-ins run as: warder exec %s /warder-agent %s",
			req.Cmd[0], a.Name, res.ExitCode, a.Name, builtins)}
	case res.ExitCode != 0:
		return &exitCode{code: res.ExitCode}
	}
	return nil
}

// builtins are the default image's commands for exec, as
// warder-agent names them.
const builtins = "ls|cat|env|echo|mkdir|rm|du|write|sleep|tick"

// exitCode ends the CLI with a command's own exit code; msg, if any, is
// said on stderr.
type exitCode struct {
	code int
	msg  string
}

func (e *exitCode) Error() string { return e.msg }
