package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/warder/warder/internal/fsat"
)

// fsop is the workspace's file operations: Warder runs it in a helper
// container (Docker) or Pod (Kubernetes) that mounts only the workspace,
// as the agent's user, so what it makes is the agent's and it can reach
// only what the agent can. Every path is ROOT and a relative path below
// it, resolved one element at a time from ROOT's descriptor with
// O_NOFOLLOW (see internal/fsat): a symlink anywhere on the way is refused at
// the moment it is met, so a link the agent makes at any depth, before or
// during the call, is never followed, and nothing outside ROOT is read or
// written.
//
//	fsop stat ROOT REL        one JSON fsEntry
//	fsop list ROOT REL LIMIT  a JSON array of the directory's entries
//	                          (reads that directory only)
//	fsop tar ROOT REL         REL (a file or a tree) as a tar on stdout,
//	                          names relative to REL's parent; links are
//	                          written as links, never followed
//	fsop untar ROOT DIR       the tar on stdin extracted into DIR (made
//	                          if missing); links and escaping names
//	                          refused; on failure, what it made at the
//	                          top (DIR itself, or new top-level names) is
//	                          removed again before it exits
//	fsop rm ROOT REL          REL and everything under it (a link itself,
//	                          never its target); absent is fine
//
// A first argument -as-owner (the helper started as root with only
// CAP_SETUID and CAP_SETGID) makes fsop become the owner of ROOT before
// anything else: for agents whose user is a name only their image knows.
//
// Exit codes: internal/fsop's (which the agent does not import, to stay
// small; TestFsopCodes checks they agree), as package fsat gives them.
const (
	fsNotFound = fsat.NotFound
	fsInvalid  = fsat.Invalid
	fsNotDir   = fsat.NotDir
	fsConflict = fsat.Conflict
	fsFull     = fsat.Full
)

// fsEntry is one file as fsop reports it.
type fsEntry = fsat.Entry

// tarBuffer is what fsop tar gathers before each write to its output.
const tarBuffer = 1 << 20

func builtinFsop(args []string, in io.Reader, out, errw io.Writer) int {
	if len(args) > 0 && args[0] == "-as-owner" {
		args = args[1:]
		if len(args) >= 2 {
			if err := becomeOwner(args[1]); err != nil {
				fmt.Fprintln(errw, "fsop:", err)
				return 1
			}
		}
	}
	if len(args) < 3 {
		fmt.Fprintln(errw, "usage: fsop [-as-owner] stat|list|tar|untar|rm ROOT REL [LIMIT]")
		return 2
	}
	op, rootPath, rel := args[0], args[1], args[2]
	root, err := fsat.OpenRoot(rootPath)
	if err != nil {
		fmt.Fprintln(errw, err)
		return fsNotFound
	}
	defer root.Close()
	switch op {
	case "stat":
		var e fsEntry
		if e, err = fsat.Stat(root, rel); err == nil {
			err = json.NewEncoder(out).Encode(e)
		}
	case "list":
		limit := 1000
		if len(args) > 3 {
			limit, _ = strconv.Atoi(args[3])
		}
		err = fsat.List(root, rel, limit, out)
	case "tar":
		// Written in large pieces: each write to an exec's stdout is a
		// frame the engine copies through its own buffers, and a tar
		// written as it is made (512-byte headers, 32 KiB of content at
		// a time) crosses that path far more often than it needs to.
		bw := bufio.NewWriterSize(out, tarBuffer)
		if err = fsat.Tar(root, rel, bw); err == nil {
			err = bw.Flush()
		}
	case "untar":
		err = fsat.Untar(root, rel, in)
	case "rm":
		err = fsat.Remove(root, rel)
	default:
		fmt.Fprintln(errw, "fsop: unknown operation", op)
		return 2
	}
	if err == nil {
		return 0
	}
	fmt.Fprintln(errw, err)
	return fsat.Code(err)
}

// becomeOwner takes on the uid and gid owning root (65534 for a root
// owned by root), with no supplementary groups, for every thread.
func becomeOwner(root string) error {
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		return err
	}
	uid, gid := int(st.Uid), int(st.Gid)
	if uid == 0 {
		uid, gid = 65534, 65534
	}
	if err := syscall.Setgroups(nil); err != nil {
		return err
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return err
	}
	return syscall.Setresuid(uid, uid, uid)
}
