package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
)

func (c *CLI) agentsLogs(ctx context.Context, args []string) error {
	fs := c.flags("agents logs", "agents logs [-f] [--tail N] [--since T] [-t] [--raw] AGENT")
	follow := fs.Bool("f", false, "follow: print new lines as they are written, until the agent stops")
	fs.BoolVar(follow, "follow", false, "same as -f")
	tail := fs.String("tail", "100", `lines from the end, or "all"`)
	since := fs.String("since", "", "only lines since: RFC 3339, Unix seconds, or a duration such as 10m")
	stamps := fs.Bool("t", false, "show each line's time")
	fs.BoolVar(stamps, "timestamps", false, "same as -t")
	raw := fs.Bool("raw", false, "write the output as the agent wrote it, escape sequences and all, even to a terminal")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("agents logs needs one agent")
	}
	opts := client.LogOptions{Follow: *follow, Timestamps: *stamps}
	if *tail != "all" {
		n, err := strconv.Atoi(*tail)
		if err != nil || n < 0 {
			return usagef("--tail takes a number of lines or all, not %q", *tail)
		}
		switch {
		case n > 0:
			opts.Tail = n
		case *follow:
			opts.OnlyNew = true
		default:
			return nil // no lines asked for, and none to wait for
		}
	}
	if *since != "" {
		if opts.Since, err = parseSince(*since); err != nil {
			return err
		}
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	a, err := resolveOne(ctx, cl, pos[0])
	if err != nil {
		return err
	}
	_, err = cl.StreamLogs(ctx, a.ID, opts, func(l warder.LogLine) error {
		w := c.Stdout
		if l.Stream == warder.StreamStderr {
			w = c.Stderr
		}
		text := c.outputFor(l.Stream == warder.StreamStderr, *raw)(l.Text)
		if *stamps && !l.Time.IsZero() {
			_, err := fmt.Fprintln(w, l.Time.Format(time.RFC3339Nano)+" "+text)
			return err
		}
		_, err := fmt.Fprintln(w, text)
		return err
	})
	if errors.Is(err, context.Canceled) && *follow {
		return nil // Ctrl-C ends a follow
	}
	return err
}

// parseSince reads a time as the server does.
func parseSince(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Unix(n, 0), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, usagef("--since takes a time such as 2026-11-27T05:00:00Z, Unix seconds, or a duration such as 10m, not %q", v)
}

func (c *CLI) agentsStats(ctx context.Context, args []string) error {
	fs := c.flags("agents stats", "agents stats [--no-stream] [--json] [AGENT...]")
	noStream := fs.Bool("no-stream", false, "print one sample and exit")
	asJSON := fs.Bool("json", false, "print JSON (one object per agent and sample)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	var agents []*warder.Agent
	if len(pos) > 0 {
		if agents, err = resolveAll(ctx, cl, pos); err != nil {
			return err
		}
	} else {
		list, err := cl.Agents(ctx)
		if err != nil {
			return err
		}
		for _, a := range list {
			if a.Status == warder.StatusRunning {
				agents = append(agents, a)
			}
		}
	}
	if *noStream {
		return c.statsOnce(ctx, cl, agents, *asJSON)
	}
	return c.statsLive(ctx, cl, agents, *asJSON)
}

// statsRow is one agent's line of the stats table.
type statsRow struct {
	agent *warder.Agent
	stats *warder.StatsView
	note  string // why there are no stats
}

// statsJSON is one line of stats --json.
type statsJSON struct {
	AgentID string            `json:"agent_id"`
	Name    string            `json:"name"`
	Stats   *warder.StatsView `json:"stats"`
	Error   string            `json:"error,omitempty"`
}

func (c *CLI) statsOnce(ctx context.Context, cl *client.Client, agents []*warder.Agent, asJSON bool) error {
	rows := make([]statsRow, len(agents))
	var first error
	failed := 0
	for i, a := range agents {
		rows[i].agent = a
		st, err := cl.Stats(ctx, a.ID)
		if err != nil {
			if client.StatusOf(err) == 0 {
				return err
			}
			_, rows[i].note = c.explain(err)
			if failed++; first == nil {
				first = err
			}
			continue
		}
		rows[i].stats = st
	}
	if failed > 0 && failed == len(agents) {
		return first // nothing to show: say why
	}
	if asJSON {
		out := make([]statsJSON, len(rows))
		for i, r := range rows {
			out[i] = statsJSON{r.agent.ID, r.agent.Name, r.stats, r.note}
		}
		return c.printJSON(out)
	}
	c.statsTable(rows)
	return nil
}

func (c *CLI) statsTable(rows []statsRow) {
	out := make([][]string, 0, len(rows))
	for _, r := range rows {
		if r.stats == nil {
			out = append(out, []string{shortID(r.agent.ID), r.agent.Name, "-", "-", "-", "-", "-", "-"})
			continue
		}
		s := r.stats
		out = append(out, []string{shortID(r.agent.ID), r.agent.Name, s.CPUUsage, iec(s.MemoryBytes) + " / " + iec(s.MemoryLimitBytes),
			s.MemoryPercent, iec(s.NetworkRxBytes) + " / " + iec(s.NetworkTxBytes), iec(s.BlockReadBytes) + " / " + iec(s.BlockWriteBytes),
			strconv.FormatUint(s.Pids, 10)})
	}
	table(c.Stdout, []string{"AGENT ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}, out)
}

// statsLive follows every agent's stats stream and prints the table each
// second, in place on a terminal, until interrupted or every stream ends.
func (c *CLI) statsLive(ctx context.Context, cl *client.Client, agents []*warder.Agent, asJSON bool) error {
	if len(agents) == 0 {
		return usagef("no running agents to show; name one, or start one")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	rows := make([]statsRow, len(agents))
	var wg sync.WaitGroup
	var firstErr error
	for i, a := range agents {
		rows[i].agent = a
		wg.Go(func() {
			reason, err := cl.WatchStats(ctx, a.ID, func(v warder.StatsView) error {
				mu.Lock()
				defer mu.Unlock()
				rows[i].stats, rows[i].note = &v, ""
				if asJSON {
					return c.printJSONLine(statsJSON{a.ID, a.Name, &v, ""})
				}
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			rows[i].stats = nil
			switch {
			case err == nil:
				rows[i].note = reason
			case errors.Is(err, context.Canceled):
			default:
				if firstErr == nil && client.StatusOf(err) == 0 {
					firstErr = err
				}
				_, rows[i].note = c.explain(err)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return nil
		case <-done:
			if !asJSON {
				c.drawStats(&mu, rows)
			}
			return firstErr
		case <-tick.C:
			if !asJSON {
				c.drawStats(&mu, rows)
			}
		}
	}
}

// iec is a size as docker stats writes memory: binary units named as
// such, at most four digits (256MiB, 1.563GiB, 0B).
func iec(b uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v, i := float64(b), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'g', 4, 64) + units[i]
}

func (c *CLI) drawStats(mu *sync.Mutex, rows []statsRow) {
	mu.Lock()
	snapshot := append([]statsRow(nil), rows...)
	mu.Unlock()
	sort.SliceStable(snapshot, func(i, j int) bool { return snapshot[i].agent.Name < snapshot[j].agent.Name })
	if c.Terminal() {
		fmt.Fprint(c.Stdout, "\x1b[H\x1b[2J")
	}
	c.statsTable(snapshot)
	if !c.Terminal() {
		fmt.Fprintln(c.Stdout)
	}
}

func (c *CLI) agentsEvents(ctx context.Context, args []string) error {
	fs := c.flags("agents events", "agents events [--json]")
	asJSON := fs.Bool("json", false, "print each change as JSON, one object a line")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("agents events takes no arguments")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	reason, err := cl.Events(ctx, func(e warder.StatusChange) error {
		if *asJSON {
			return c.printJSONLine(e)
		}
		line := fmt.Sprintf("%s %s %s %s → %s", e.At.Local().Format("2006-01-02 15:04:05"), shortID(e.AgentID), e.AgentName, orDash(string(e.From)), e.To)
		if e.Reason != "" {
			line += ": " + strings.TrimSpace(e.Reason)
		}
		_, err := fmt.Fprintln(c.Stdout, escape(line))
		return err
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	if err == nil && reason != "" {
		fmt.Fprintln(c.Stderr, "warder: the server ended the stream: "+escape(reason))
		return errors.New(reason)
	}
	return err
}
