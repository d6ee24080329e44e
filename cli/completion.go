package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// completionTree is each command's next words; "" is the first word.
var completionTree = map[string][]string{
	"":           {"login", "logout", "whoami", "agents", "ps", "cp", "exec", "keys", "users", "status", "usage", "audit", "mcp", "version", "completion", "help"},
	"agents":     agentsSubcommands,
	"keys":       {"ls", "create", "rm"},
	"users":      {"ls", "create", "disable", "enable", "limits"},
	"completion": {"bash", "zsh", "fish"},
}

// agentArgs are the commands whose arguments are agents: completed with
// the names warder agents ls finds.
var agentArgs = []string{"agents inspect", "agents start", "agents stop", "agents restart", "agents pause", "agents resume", "agents rm", "agents logs",
	"agents stats", "agents chat", "exec", "agents snapshot", "agents snapshots", "agents restore", "agents fork", "agents usage"}

// completionFlags are each command's flags, read from its own -h so
// they are always the ones it takes.
func (c *CLI) completionFlags() map[string][]string {
	paths := []string{"login", "logout", "whoami", "ps", "cp", "exec", "status", "usage", "audit", "version"}
	for parent, subs := range completionTree {
		if parent == "agents" || parent == "keys" || parent == "users" {
			for _, s := range subs {
				paths = append(paths, parent+" "+s)
			}
		}
	}
	out := map[string][]string{}
	for _, p := range paths {
		var b bytes.Buffer
		sub := &CLI{Stdin: strings.NewReader(""), Stdout: &b, Stderr: io.Discard, Getenv: func(string) string { return "" },
			ConfigDir: "/nonexistent", HTTP: c.HTTP, Terminal: func() bool { return false }}
		words := strings.Fields(p)
		sub.dispatch(context.Background(), words[0], append(words[1:], "-h"))
		seen := map[string]bool{}
		sc := bufio.NewScanner(&b)
		for sc.Scan() {
			// PrintDefaults writes "  -name type" for each flag.
			line := sc.Text()
			if !strings.HasPrefix(line, "  -") {
				continue
			}
			name := strings.Fields(line)[0]
			if len(name) > 2 {
				name = "-" + name // --name
			}
			if !seen[name] {
				seen[name] = true
				out[p] = append(out[p], name)
			}
		}
		sort.Strings(out[p])
	}
	out["ps"] = out["agents ls"]
	return out
}

func (c *CLI) completion(args []string) error {
	fs := c.flags("completion", "completion bash|zsh|fish\n\n"+
		"  bash: source <(warder completion bash), or save it as /etc/bash_completion.d/warder\n"+
		"  zsh:  source <(warder completion zsh) in ~/.zshrc\n"+
		"  fish: warder completion fish > ~/.config/fish/completions/warder.fish")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("completion needs a shell: bash, zsh or fish")
	}
	switch pos[0] {
	case "bash":
		_, err = io.WriteString(c.Stdout, c.bashCompletion())
	case "zsh":
		_, err = io.WriteString(c.Stdout, "#compdef warder\n# zsh completion for warder: source <(warder completion zsh)\n"+
			"autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"+c.bashCompletion())
	case "fish":
		_, err = io.WriteString(c.Stdout, c.fishCompletion())
	default:
		return usagef("completion knows bash, zsh and fish, not %q%s", pos[0], didYouMean(pos[0], completionTree["completion"]))
	}
	return err
}

// agentNames is the shell command that lists the caller's agents' names.
const agentNames = `warder agents ls --format '{{.Name}}' 2>/dev/null`

func (c *CLI) bashCompletion() string {
	flags := c.completionFlags()
	var b strings.Builder
	b.WriteString(`# bash completion for warder: source <(warder completion bash)
_warder_next() {
	case "$1" in
`)
	for _, k := range sortedKeys(completionTree) {
		fmt.Fprintf(&b, "\t%q) echo %q ;;\n", k, strings.Join(completionTree[k], " "))
	}
	fmt.Fprintf(&b, "\tagent) echo %q ;;\n", strings.Join(completionTree["agents"], " "))
	for _, k := range agentArgs {
		fmt.Fprintf(&b, "\t%q) %s ;;\n", k, agentNames)
	}
	b.WriteString("\tesac\n}\n_warder_flags() {\n\tcase \"$1\" in\n")
	for _, k := range sortedKeys(flags) {
		fmt.Fprintf(&b, "\t%q) echo %q ;;\n", k, strings.Join(flags[k], " "))
	}
	b.WriteString(`	esac
}
_warder() {
	local cur=${COMP_WORDS[COMP_CWORD]} cmd= sub= w i
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		[[ $w == -* ]] && continue
		if [[ -z $cmd ]]; then
			cmd=$w
		elif [[ -z $sub && ( $cmd == agents || $cmd == agent || $cmd == keys || $cmd == users || $cmd == completion ) ]]; then
			sub=$w
		fi
	done
	[[ $cmd == agent ]] && cmd=agents
	local key=$cmd
	[[ -n $sub ]] && key="$cmd $sub"
	local words
	if [[ $cur == -* ]]; then
		words=$(_warder_flags "$key")
	else
		words=$(_warder_next "$key")
	fi
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _warder warder
`)
	return b.String()
}

func (c *CLI) fishCompletion() string {
	flags := c.completionFlags()
	var b strings.Builder
	b.WriteString("# fish completion for warder: warder completion fish > ~/.config/fish/completions/warder.fish\n")
	b.WriteString("complete -c warder -f\n")
	fmt.Fprintf(&b, "complete -c warder -n __fish_use_subcommand -a %q\n", strings.Join(completionTree[""], " "))
	cond := func(path string) string {
		words := strings.Fields(path)
		var parts []string
		for _, w := range words {
			if w == "agents" {
				w = "agents agent"
			}
			parts = append(parts, "__fish_seen_subcommand_from "+w)
		}
		return strings.Join(parts, "; and ")
	}
	for _, k := range sortedKeys(completionTree) {
		if k == "" {
			continue
		}
		subs := strings.Join(completionTree[k], " ")
		fmt.Fprintf(&b, "complete -c warder -n %q -a %q\n", cond(k)+"; and not __fish_seen_subcommand_from "+subs, subs)
	}
	for _, k := range agentArgs {
		fmt.Fprintf(&b, "complete -c warder -n %q -a %q\n", cond(k), "("+agentNames+")")
	}
	for _, k := range sortedKeys(flags) {
		for _, f := range flags[k] {
			opt := "-l " + strings.TrimPrefix(f, "--")
			if !strings.HasPrefix(f, "--") {
				opt = "-s " + strings.TrimPrefix(f, "-")
			}
			fmt.Fprintf(&b, "complete -c warder -n %q %s\n", cond(k), opt)
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
