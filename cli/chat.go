package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// agentsChat sends one message (the arguments after the agent), or, with
// none, each line of stdin in one conversation, printing the answer as
// the model writes it.
func (c *CLI) agentsChat(ctx context.Context, args []string) error {
	fs := c.flags("agents chat", "agents chat AGENT [MESSAGE] [--conversation ID] [--json]")
	conv := fs.String("conversation", "", "continue this conversation")
	asJSON := fs.Bool("json", false, "print the whole answer as JSON, not streamed")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("agents chat needs an agent")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	a, err := resolveOne(ctx, cl, pos[0])
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		_, err := c.say(ctx, cl, a, strings.Join(pos[1:], " "), *conv, *asJSON)
		return err
	}
	interactive := isTerminal(c.Stdin) && c.Terminal()
	if interactive {
		fmt.Fprintf(c.Stdout, "Chatting with %s; an empty line or Ctrl-D ends it.\n", escape(a.Name))
	}
	in := bufio.NewReader(c.Stdin)
	id := *conv
	for {
		if interactive {
			fmt.Fprint(c.Stdout, "> ")
		}
		line, err := readLine(in)
		if err == io.EOF || interactive && strings.TrimSpace(line) == "" {
			return nil
		}
		if err != nil {
			return err
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if id, err = c.say(ctx, cl, a, line, id, *asJSON); err != nil {
			return err
		}
	}
}

// say sends one message and prints the answer; it returns the
// conversation's id.
func (c *CLI) say(ctx context.Context, cl *client.Client, a *warder.Agent, msg, conv string, asJSON bool) (string, error) {
	req := wire.ChatRequest{Content: msg, ConversationID: conv}
	if asJSON {
		r, err := cl.Chat(ctx, a.ID, req)
		if err != nil {
			return conv, err
		}
		return r.ConversationID, c.printJSON(r)
	}
	r, err := cl.ChatStream(ctx, a.ID, req, func(piece string) error {
		// A model's answer is text from outside (a prompt can ask for
		// escape sequences): its own lines and tabs, the rest escaped.
		_, err := io.WriteString(c.Stdout, escapeText(piece))
		return err
	})
	if err != nil {
		fmt.Fprintln(c.Stdout)
		return conv, err
	}
	fmt.Fprintln(c.Stdout)
	return r.ConversationID, nil
}
