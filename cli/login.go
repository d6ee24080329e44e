package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/warder/warder/client"
)

// login signs in and saves the server's URL and the token.
func (c *CLI) login(ctx context.Context, args []string) error {
	fs := c.flags("login", "login [URL] [-u USERNAME] [--password-stdin]")
	user := fs.String("u", "", "username or email (asked when not given)")
	fs.StringVar(user, "username", "", "username or email")
	stdinPassword := fs.Bool("password-stdin", false, "read the password from standard input")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("login takes at most one URL, not %q", strings.Join(pos, " "))
	}
	url := c.serverURL()
	if len(pos) == 1 {
		url = strings.TrimRight(pos[0], "/")
		if !strings.Contains(url, "://") {
			url = "http://" + url
		}
	}
	in := bufio.NewReader(c.Stdin)
	if *user == "" {
		if *stdinPassword {
			return usagef("with --password-stdin, give the username with -u")
		}
		fmt.Fprint(c.Stderr, "Username: ")
		if *user, err = readLine(in); err != nil {
			return usagef("no username given")
		}
	}
	var password string
	if *stdinPassword || !isTerminal(c.Stdin) {
		password, err = readLine(in)
	} else {
		password, err = readSecret(c.Stdin, c.Stderr, "Password: ")
	}
	if err != nil || password == "" {
		return usagef("no password given")
	}
	anon := client.New(url, "", client.WithHTTPClient(c.HTTP))
	tok, err := anon.Login(ctx, *user, password)
	if err != nil {
		return err
	}
	me, err := anon.WithToken(tok.AccessToken).Me(ctx)
	if err != nil {
		return err
	}
	if err := c.saveConfig(config{URL: url, Token: tok.AccessToken, Username: me.Username}); err != nil {
		return fmt.Errorf("signed in, but could not save the token: %w", err)
	}
	p, _ := c.configPath()
	fmt.Fprintf(c.Stdout, "Signed in to %s as %s (%s); the token is in %s\n", escape(url), escape(me.Username), escape(string(me.Role)), escape(p))
	return nil
}

// logout revokes the saved token and forgets it.
func (c *CLI) logout(ctx context.Context, args []string) error {
	fs := c.flags("logout", "logout")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("logout takes no arguments")
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	if c.Getenv("WARDER_TOKEN") == "" && cfg.Token == "" {
		fmt.Fprintln(c.Stdout, "Not signed in")
		return nil
	}
	url := c.serverURL()
	cl, err := c.client()
	if err != nil {
		return err
	}
	// A token the server no longer knows is as good as revoked.
	if err := cl.Logout(ctx); err != nil && client.StatusOf(err) != 401 {
		return err
	}
	if c.Getenv("WARDER_TOKEN") == "" {
		p, _ := c.configPath()
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	fmt.Fprintln(c.Stdout, "Signed out of "+escape(url))
	return nil
}

// whoami says who the token belongs to, on which server.
func (c *CLI) whoami(ctx context.Context, args []string) error {
	fs := c.flags("whoami", "whoami [--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	me, err := cl.Me(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(me)
	}
	fmt.Fprintf(c.Stdout, "%s (%s) on %s\n", escape(me.Username), escape(string(me.Role)), escape(c.serverURL()))
	return nil
}
