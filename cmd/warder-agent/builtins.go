package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The default image is FROM scratch: no shell, no coreutils. These
// built-ins give Warder's exec API something useful to run there
// (POST /api/agents/{id}/exec {"cmd": ["/warder-agent", "ls", "/data"]}),
// and Warder's workspace helpers what they need (rm, du, kill-exec).
// Each takes its arguments, standard input and output, and returns the
// exit code: 0 ok, 1 failed, 2 bad usage.
var builtins = map[string]func(args []string, in io.Reader, out, errw io.Writer) int{
	"ls":        builtinLs,
	"cat":       builtinCat,
	"env":       builtinEnv,
	"echo":      builtinEcho,
	"mkdir":     builtinMkdir,
	"rm":        builtinRm,
	"du":        builtinDu,
	"sleep":     builtinSleep,
	"write":     builtinWrite,
	"kill-exec": builtinKillExec,
	"own":       builtinOwn,
	"tick":      builtinTick,
	"fsop":      builtinFsop,
	"linger":    builtinLinger,
	"ln":        builtinLn,
	"with-env":  builtinWithEnv,
	"fetch":     builtinFetch,   // netcheck.go
	"dns":       builtinDNS,     // netcheck.go
	"udp-echo":  builtinUDPEcho, // netcheck.go
}

// tick N SECONDS: write "tick 1" ... "tick N" on stdout, one every
// SECONDS, and "done" on stderr: output that comes over time, for
// seeing (and testing) that exec streams it as it is written.
func builtinTick(args []string, _ io.Reader, out, errw io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(errw, "usage: tick N SECONDS")
		return 2
	}
	n, err1 := strconv.Atoi(args[0])
	d, err2 := strconv.ParseFloat(args[1], 64)
	if err1 != nil || err2 != nil || n < 0 || d < 0 {
		fmt.Fprintln(errw, "usage: tick N SECONDS")
		return 2
	}
	for i := 1; i <= n; i++ {
		if i > 1 {
			time.Sleep(time.Duration(d * float64(time.Second)))
		}
		fmt.Fprintf(out, "tick %d\n", i)
	}
	fmt.Fprintln(errw, "done")
	return 0
}

// own DIR UID:GID gives DIR to UID:GID; own DIR - makes it writable by
// anyone, sticky as /tmp is. Warder's helper runs it as root with only
// CAP_CHOWN on a new workspace, whose root Docker makes root's.
func builtinOwn(args []string, _ io.Reader, _, errw io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(errw, "usage: own DIR UID:GID|-")
		return 2
	}
	var err error
	if args[1] == "-" {
		err = os.Chmod(args[0], 0o777|fs.ModeSticky)
	} else {
		u, g, _ := strings.Cut(args[1], ":")
		uid, uerr := strconv.Atoi(u)
		gid, gerr := strconv.Atoi(g)
		if uerr != nil || (g != "" && gerr != nil) {
			fmt.Fprintln(errw, "own: not UID:GID:", args[1])
			return 2
		}
		err = os.Lchown(args[0], uid, gid)
	}
	if err != nil {
		fmt.Fprintln(errw, "own:", err)
		return 1
	}
	return 0
}

func builtinNames() string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, " | ")
}

// ls [PATH...]: one line per entry: mode, uid:gid, size, modification time, name
// (a directory's entries, or the file itself).
func builtinLs(args []string, _ io.Reader, out, errw io.Writer) int {
	if len(args) == 0 {
		args = []string{"."}
	}
	code := 0
	for _, p := range args {
		fi, err := os.Lstat(p)
		if err != nil {
			fmt.Fprintln(errw, "ls:", err)
			code = 1
			continue
		}
		if !fi.IsDir() {
			lsLine(out, fi)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			fmt.Fprintln(errw, "ls:", err)
			code = 1
			continue
		}
		for _, e := range entries {
			if info, err := e.Info(); err == nil {
				lsLine(out, info)
			}
		}
	}
	return code
}

func lsLine(out io.Writer, fi fs.FileInfo) {
	owner := "-"
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner = fmt.Sprintf("%d:%d", st.Uid, st.Gid)
	}
	fmt.Fprintf(out, "%s %11s %10d %s %s\n", fi.Mode(), owner, fi.Size(), fi.ModTime().UTC().Format(time.RFC3339), fi.Name())
}

// cat [FILE...]: the files' bytes, or standard input without any.
func builtinCat(args []string, in io.Reader, out, errw io.Writer) int {
	if len(args) == 0 {
		if _, err := io.Copy(out, in); err != nil {
			fmt.Fprintln(errw, "cat:", err)
			return 1
		}
		return 0
	}
	code := 0
	for _, p := range args {
		f, err := os.Open(p)
		if err == nil {
			_, err = io.Copy(out, f)
			f.Close()
		}
		if err != nil {
			fmt.Fprintln(errw, "cat:", err)
			code = 1
		}
	}
	return code
}

// ln TARGET LINK: make LINK a symbolic link to TARGET.
func builtinLn(args []string, _ io.Reader, _, errw io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(errw, "usage: ln TARGET LINK")
		return 2
	}
	if err := os.Symlink(args[0], args[1]); err != nil {
		fmt.Fprintln(errw, "ln:", err)
		return 1
	}
	return 0
}

// env: the environment, one KEY=VALUE a line.
func builtinEnv(_ []string, _ io.Reader, out, _ io.Writer) int {
	for _, kv := range os.Environ() {
		fmt.Fprintln(out, kv)
	}
	return 0
}

// echo ARGS...: the arguments, space-separated, and a newline.
func builtinEcho(args []string, _ io.Reader, out, _ io.Writer) int {
	fmt.Fprintln(out, strings.Join(args, " "))
	return 0
}

// mkdir DIR...: make the directories and their parents.
func builtinMkdir(args []string, _ io.Reader, _, errw io.Writer) int {
	for _, p := range args {
		if err := os.MkdirAll(p, 0o755); err != nil {
			fmt.Fprintln(errw, "mkdir:", err)
			return 1
		}
	}
	return 0
}

// rm PATH...: remove the paths and everything under them; absent is fine.
func builtinRm(args []string, _ io.Reader, _, errw io.Writer) int {
	for _, p := range args {
		if err := os.RemoveAll(p); err != nil {
			fmt.Fprintln(errw, "rm:", err)
			return 1
		}
	}
	return 0
}

// du PATH: the bytes of the regular files under PATH (links not
// followed), as one number.
func builtinDu(args []string, _ io.Reader, out, errw io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(errw, "usage: du PATH")
		return 2
	}
	var total int64
	err := filepath.WalkDir(args[0], func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(errw, "du:", err)
		return 1
	}
	fmt.Fprintln(out, total)
	return 0
}

// sleep SECONDS: wait, then exit 0.
func builtinSleep(args []string, _ io.Reader, _, errw io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(errw, "usage: sleep SECONDS")
		return 2
	}
	d, err := strconv.ParseFloat(args[0], 64)
	if err != nil || d < 0 {
		fmt.Fprintln(errw, "sleep: not a number of seconds:", args[0])
		return 2
	}
	time.Sleep(time.Duration(d * float64(time.Second)))
	return 0
}

// write FILE: standard input into FILE, replacing it.
func builtinWrite(args []string, in io.Reader, _, errw io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(errw, "usage: write FILE")
		return 2
	}
	f, err := os.Create(args[0])
	if err == nil {
		_, err = io.Copy(f, in)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(errw, "write:", err)
		return 1
	}
	return 0
}
