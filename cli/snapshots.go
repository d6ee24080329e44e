package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// agentsSnapshots runs the snapshot subcommands of agents; ok is false
// for any other.
func (c *CLI) agentsSnapshots(ctx context.Context, sub string, args []string) (ok bool, err error) {
	switch sub {
	case "snapshot":
		return true, c.snapshotTake(ctx, args)
	case "snapshots":
		return true, c.snapshotList(ctx, args)
	case "restore":
		return true, c.snapshotRestore(ctx, args)
	case "fork":
		return true, c.snapshotFork(ctx, args)
	}
	return false, nil
}

// snapshotTake is `agents snapshot AGENT NAME`, and with -d
// `agents snapshot -d AGENT SNAPSHOT`, which deletes one.
func (c *CLI) snapshotTake(ctx context.Context, args []string) error {
	fs := c.flags("agents snapshot", "agents snapshot AGENT NAME | agents snapshot -d AGENT SNAPSHOT")
	del := fs.Bool("d", false, "delete the snapshot (its id, a unique start of it, or its name)")
	asJSON := fs.Bool("json", false, "print the snapshot as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("agents snapshot takes an agent and a name (or, with -d, a snapshot)")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	if *del {
		id, err := snapshotAgent(ctx, cl, pos[0])
		if err != nil {
			return err
		}
		s, err := resolveSnapshot(ctx, cl, id, pos[1])
		if err != nil {
			return err
		}
		if err := cl.DeleteSnapshot(ctx, id, s.ID); err != nil {
			return err
		}
		_, err = fmt.Fprintln(c.Stdout, s.ID)
		return err
	}
	a, err := resolveOne(ctx, cl, pos[0])
	if err != nil {
		return err
	}
	s, err := cl.TakeSnapshot(ctx, a.ID, pos[1])
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(s)
	}
	_, err = fmt.Fprintf(c.Stdout, "%s\t%s\n", s.ID, iec(uint64(s.SizeBytes)))
	return err
}

// snapshotList is `agents snapshots AGENT`: a table, newest last.
func (c *CLI) snapshotList(ctx context.Context, args []string) error {
	fs := c.flags("agents snapshots", "agents snapshots AGENT [--json]")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("agents snapshots takes one agent")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	id, err := snapshotAgent(ctx, cl, pos[0])
	if err != nil {
		return err
	}
	list, err := cl.Snapshots(ctx, id)
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(list)
	}
	rows := [][]string{}
	for _, s := range list.Snapshots {
		rows = append(rows, []string{s.ID, s.Name, iec(uint64(s.SizeBytes)), iec(uint64(s.WorkspaceBytes)), ago(s.CreatedAt)})
	}
	table(c.Stdout, []string{"SNAPSHOT ID", "NAME", "SIZE", "WORKSPACE", "CREATED"}, rows)
	return nil
}

// snapshotRestore is `agents restore AGENT SNAPSHOT`.
func (c *CLI) snapshotRestore(ctx context.Context, args []string) error {
	fs := c.flags("agents restore", "agents restore AGENT SNAPSHOT")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("agents restore takes an agent and a snapshot (its id, a unique start of it, or its name)")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	a, err := resolveOne(ctx, cl, pos[0])
	if err != nil {
		return err
	}
	s, err := resolveSnapshot(ctx, cl, a.ID, pos[1])
	if err != nil {
		return err
	}
	after, err := cl.RestoreSnapshot(ctx, a.ID, s.ID)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.Stdout, escape(after.Name)+"\t"+string(after.Status))
	return err
}

// snapshotFork is `agents fork AGENT NAME [--snapshot S] [--start]`.
func (c *CLI) snapshotFork(ctx context.Context, args []string) error {
	fs := c.flags("agents fork", "agents fork AGENT NAME [--snapshot SNAPSHOT] [--start]")
	from := fs.String("snapshot", "", "copy the workspace as this snapshot holds it, not as it is now")
	start := fs.Bool("start", false, "start the new agent once its workspace is filled")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("agents fork takes an agent and the new agent's name")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	id, err := snapshotAgent(ctx, cl, pos[0])
	if err != nil {
		return err
	}
	req := wire.ForkRequest{Name: pos[1], Start: *start}
	if *from != "" {
		s, err := resolveSnapshot(ctx, cl, id, *from)
		if err != nil {
			return err
		}
		req.Snapshot = s.ID
	}
	f, err := cl.ForkAgent(ctx, id, req)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.Stdout, f.ID)
	return err
}

// snapshotAgent is the id of the agent ref names, or ref itself when it
// is a whole id that names no agent of the caller's: a deleted agent
// whose snapshots were kept (the server says whether the caller may see
// them).
func snapshotAgent(ctx context.Context, cl *client.Client, ref string) (string, error) {
	a, err := resolveOne(ctx, cl, ref)
	var nf *notFound
	if errors.As(err, &nf) && len(ref) == 36 && strings.Count(ref, "-") == 4 {
		return ref, nil
	}
	if err != nil {
		return "", err
	}
	return a.ID, nil
}

// resolveSnapshot finds the agent's snapshot ref names: its id, a unique
// start of it, or its name (the newest of that name).
func resolveSnapshot(ctx context.Context, cl *client.Client, agentID, ref string) (*wire.Snapshot, error) {
	list, err := cl.Snapshots(ctx, agentID)
	if err != nil {
		return nil, err
	}
	var byPrefix []*wire.Snapshot
	var byName *wire.Snapshot
	for _, s := range list.Snapshots {
		if s.ID == ref {
			return s, nil
		}
		if strings.HasPrefix(s.ID, ref) {
			byPrefix = append(byPrefix, s)
		}
		if s.Name == ref {
			byName = s // oldest first: the last is the newest
		}
	}
	switch {
	case byName != nil:
		return byName, nil
	case len(byPrefix) == 1:
		return byPrefix[0], nil
	case len(byPrefix) > 1:
		return nil, usagef("%q is the start of %d snapshots' ids; give more of it", ref, len(byPrefix))
	}
	return nil, &notFound{fmt.Sprintf("no snapshot %q (see warder agents snapshots)", ref)}
}
