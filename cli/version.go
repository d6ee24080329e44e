package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/warder/warder/client"
)

// Version is this build's version, set when it is built with
// -ldflags "-X github.com/warder/warder/cli.Version=v1.2.3"; without it,
// the module's version or the commit it was built from.
var Version = ""

// moreCommands are the CLI's own commands beside Commands; they need no
// server.
var moreCommands = []string{"version", "completion"}

// agentsSubcommands are what follows warder agents.
var agentsSubcommands = []string{"ls", "create", "inspect", "start", "stop", "restart", "pause", "resume", "rm", "logs", "stats", "events", "chat", "usage", "snapshot", "snapshots", "restore", "fork"}

// VersionString is this build's version in one word or two: v1.2.3, or
// devel (0a1b2c3d4e5f, modified).
func VersionString() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, modified := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = shortID(s.Value)
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	switch {
	case rev != "" && modified:
		return "devel (" + rev + ", modified)"
	case rev != "":
		return "devel (" + rev + ")"
	}
	return "devel"
}

// VersionLine is what warder --version prints.
func VersionLine() string { return "warder version " + VersionString() }

// version prints the client's version and the server it talks to, and
// whether that answers (GET /healthz), as docker version does; a server
// that cannot be reached is exit 3 after the client's part.
func (c *CLI) version(ctx context.Context, args []string) error {
	fs := c.flags("version", "version [--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("version takes no arguments")
	}
	type info struct {
		Version   string `json:"version"`
		GoVersion string `json:"go_version"`
		OS        string `json:"os"`
		Arch      string `json:"arch"`
		ServerURL string `json:"server_url"`
		ServerUp  bool   `json:"server_up"`
		Error     string `json:"server_error,omitempty"`
	}
	v := info{Version: VersionString(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, ServerURL: c.serverURL()}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := client.New(v.ServerURL, "", client.WithHTTPClient(c.HTTP)).Health(hctx)
	if err == nil {
		v.ServerUp = true
	} else {
		_, v.Error = c.explain(err)
	}
	if *asJSON {
		if perr := c.printJSON(v); perr != nil {
			return perr
		}
	} else {
		state := "up"
		if !v.ServerUp {
			state = "not answering"
		}
		pairs(c.Stdout, [][]string{{"Client:"}, {" Version:", v.Version}, {" Go version:", v.GoVersion}, {" OS/Arch:", v.OS + "/" + v.Arch},
			{"Server:"}, {" URL:", v.ServerURL}, {" Status:", state}})
	}
	return err
}

// didYouMean is ` (did you mean "agents"?)` for the known word closest to
// word (at most two edits away, or a start of one), else "".
func didYouMean(word string, known []string) string {
	limit := 2 // edits a word may be away
	if len(word) <= 3 {
		limit = 1
	}
	best, bestD := "", limit+1
	for _, k := range known {
		d := editDistance(word, k)
		if d < bestD || d == bestD && best == "" {
			best, bestD = k, d
		}
	}
	if best == "" && len(word) >= 2 {
		for _, k := range known {
			if len(k) > len(word) && k[:len(word)] == word {
				best = k
				break
			}
		}
	}
	if best == "" || best == word {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// DidYouMean is didYouMean over the CLI's commands and others (main's).
func DidYouMean(word string, others ...string) string {
	return didYouMean(word, append(append(append([]string(nil), others...), Commands...), moreCommands...))
}

// editDistance is the Damerau–Levenshtein distance (adjacent swaps
// count once) between a and b, in bytes.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
