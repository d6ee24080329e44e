package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/warder/warder/client"
)

// DefaultURL is the server a fresh install talks to: warder serve's default.
const DefaultURL = "http://localhost:8000"

// config is what login keeps: the server and a token for it.
type config struct {
	URL      string `json:"url"`
	Token    string `json:"token"`
	Username string `json:"username,omitempty"`
}

// notSignedIn is a command that needs a token run without one.
type notSignedIn struct{ url string }

func (e *notSignedIn) Error() string {
	return fmt.Sprintf("not signed in to %s: run warder login (or set WARDER_TOKEN)", e.url)
}

func (c *CLI) configDir() (string, error) {
	if c.ConfigDir != "" {
		return c.ConfigDir, nil
	}
	if x := c.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "warder"), nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "warder"), nil
}

func (c *CLI) configPath() (string, error) {
	dir, err := c.configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "config.json"), nil
}

// loadConfig reads the saved config; none saved is the zero config.
func (c *CLI) loadConfig() (config, error) {
	var cfg config
	p, err := c.configPath()
	if err != nil {
		return cfg, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("%s is not valid: %v (remove it and run warder login)", p, err)
	}
	return cfg, nil
}

// saveConfig writes cfg readable by the user alone: it holds a token.
func (c *CLI) saveConfig(cfg config) error {
	p, err := c.configPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // an old file's mode
		return err
	}
	return os.Rename(tmp, p)
}

// serverURL is where commands go: WARDER_URL, else the saved one, else
// the default.
func (c *CLI) serverURL() string {
	if u := c.Getenv("WARDER_URL"); u != "" {
		return strings.TrimRight(u, "/")
	}
	if cfg, err := c.loadConfig(); err == nil && cfg.URL != "" {
		return cfg.URL
	}
	return DefaultURL
}

// token is the credential: WARDER_TOKEN, else the saved one if it was
// saved for the server in use.
func (c *CLI) token() string {
	if t := c.Getenv("WARDER_TOKEN"); t != "" {
		return t
	}
	cfg, err := c.loadConfig()
	if err == nil && cfg.URL == c.serverURL() {
		return cfg.Token
	}
	return ""
}

// client is a client of the server in use, signed in; a command that
// needs a token and has none is told to log in.
func (c *CLI) client() (*client.Client, error) {
	tok := c.token()
	if tok == "" {
		return nil, &notSignedIn{c.serverURL()}
	}
	return client.New(c.serverURL(), tok, client.WithHTTPClient(c.HTTP)), nil
}
