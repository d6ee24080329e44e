// Command warder-agent is the program inside Warder's default agent image
// (warder/agent:latest). It answers GET /health and POST /chat, with any
// OpenAI-compatible chat-completions API (OpenAI, Ollama, vLLM, LiteLLM...)
// or, without one, with a deterministic offline model that says it is
// offline, so an agent works on a host with no model and no network.
//
// The model is chosen by the environment Warder gives the container:
//
//	LLM_BASE_URL   the API's base URL, e.g. https://api.openai.com/v1 or
//	               http://ollama:11434/v1; unset means the offline model
//	LLM_API_KEY    sent as "Authorization: Bearer ..."; never logged or echoed
//	LLM_TIMEOUT    the longest the API may stay silent (default 60s); a
//	               slower API is a 502, never a hang
//	OPENAI_BASE_URL, OPENAI_API_KEY
//	               used instead when LLM_BASE_URL is unset and config.model
//	               is set: Warder's LLM gateway and the agent's own token
//	AGENT_CONFIG   the agent's config as JSON (Warder sets it): config.model
//	               (required with LLM_BASE_URL), config.system_prompt, and
//	               optionally config.temperature and config.max_tokens
//
// POST /chat {"content", "role"?: "user", "stream"?: bool, "messages"?:
// [{"role", "content"}...]} answers {"role": "assistant", "content",
// "model"}; messages is the conversation so far, oldest first. With
// "stream": true the answer comes as Server-Sent Events: {"content": piece}
// events, then an event "done" with the whole answer (or "error" with
// {"detail"}). A failure of the model API is 502 {"detail"} that says what
// went wrong (timeout, rejected key, rate limit, garbage). GET /health is
// 200 while the agent serves, with "model" and "upstream" ("ok", "offline"
// or "error", and "upstream_detail").
//
// The image is built FROM scratch, so the binary must be static
// (CGO_ENABLED=0); it carries its own CA bundle and health check:
//
//	warder-agent          serve on :$PORT (default 8000) until SIGTERM
//	warder-agent health   exit 0 if http://127.0.0.1:$PORT/health answers 200
//	warder-agent ls|cat|... a small built-in command set for Warder's exec
//	                      API and workspace helpers (see builtins.go)
//
// Test and diagnostic knobs, for tests of how Warder reports failures. They
// do nothing unless set; a knob set to a malformed value stops start-up:
//
//	WARDER_AGENT_ALLOCATE_MB=N       after start-up, allocate N MiB, touch every
//	                                 page and hold it (a lower memory limit
//	                                 gets the container OOM-killed)
//	WARDER_AGENT_EXIT_CODE=N         log a line and exit with code N (0-255),
//	WARDER_AGENT_EXIT_AFTER=d        d after start-up (default 1s): a crash
//	WARDER_AGENT_ECHO=1              answer any method on /echo/... with the
//	                                 method, path, query, headers and body
//	                                 received, for tests of proxies
//	WARDER_AGENT_CHAT_FLOOD=kind     answer every chat with 64 MiB that never
//	                                 becomes an answer: an SSE event without
//	                                 end (event), a line without end (line),
//	                                 pieces without "done" (pieces), or a
//	                                 JSON string without end (json)
//	WARDER_AGENT_LOG_FLOOD=NxK       before serving, write N lines of K KiB
//	                                 to stdout, for tests of log bounds
//
// WARDER_AGENT_POOLED=1 (set by Warder's warm pool, not a knob) binds the
// port, answers 503 and writes nothing until Warder writes the agent's
// environment as one JSON line to its stdin (pooled.go).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// shutdownTimeout is how long in-flight requests get after SIGTERM; it stays
// under Docker's default 10 s stop timeout so we exit before SIGKILL.
// Connections still open after it are closed and the agent exits 0: a
// stop was asked for, and a client that holds a connection (an idle one
// that never sent a request counts as busy for 5 s) does not make it fail.
const shutdownTimeout = 5 * time.Second

func main() {
	logger := log.New(os.Stdout, "", log.LstdFlags|log.LUTC)
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "health":
			os.Exit(health(os.Getenv("PORT")))
		case "probe":
			os.Exit(probe(os.Args[2:]))
		case "sh":
			os.Exit(shellMain(os.Args[2:], os.Stdin, os.Stdout, os.Stderr)) // shell.go
		default:
			if cmd, ok := builtins[os.Args[1]]; ok {
				os.Exit(cmd(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
			}
			fmt.Fprintf(os.Stderr, "usage: warder-agent [health | probe HOST:PORT | %s]\n", builtinNames())
			os.Exit(2)
		}
	}
	reapOrphans() // reap.go
	// PID 1 in a container gets no default SIGTERM handling from the
	// kernel, so without this docker stop would wait for its timeout.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err := serve(ctx, logger, os.Environ())
	var code exitCode
	if errors.As(err, &code) {
		os.Exit(int(code))
	}
	if err != nil {
		logger.Printf("warder-agent: %v", err)
		os.Exit(1)
	}
}

// serve runs the HTTP server until ctx is cancelled, then drains it. The
// exit knob makes it return an exitCode instead, without draining. With
// WARDER_AGENT_POOLED=1 it is a warm pool's container: see servePooled.
func serve(ctx context.Context, logger *log.Logger, environ []string) error {
	env := parseEnv(environ)
	if env[envPooled] == "1" {
		return servePooled(ctx, logger, env, os.Stdin)
	}
	l, err := listen(env["PORT"])
	if err != nil {
		return err
	}
	return run(ctx, logger, env, l)
}

// listening is the agent's server, serving before its handler is set.
type listening struct {
	port int
	srv  *http.Server
	errc chan error // Serve's end
	h    *swapHandler
	// drain is how long a stop waits for open connections (shutdownTimeout).
	drain time.Duration
}

// listen binds PORT and serves it with a handler run fills in.
func listen(portEnv string) (*listening, error) {
	port, err := portFrom(portEnv)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	l := &listening{port: port, h: &swapHandler{}, errc: make(chan error, 1), drain: shutdownTimeout}
	l.srv = &http.Server{
		Handler:           l.h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() { l.errc <- l.srv.Serve(ln) }()
	return l, nil
}

// run configures the agent from env, puts its handler behind srv, and
// serves until ctx ends or the exit knob fires. The start-up line is
// written once the handler is in place: a warm pool's claim waits for it.
func run(ctx context.Context, logger *log.Logger, env map[string]string, l *listening) error {
	srv, errc, port := l.srv, l.errc, l.port
	defer srv.Close() // a no-op after a clean Shutdown
	h, err := parseHooks(env)
	if err != nil {
		return err
	}
	cfg, err := parseConfig(env[envConfig])
	if err != nil {
		return err
	}
	llm, err := parseLLM(env, cfg)
	if err != nil {
		return err
	}
	a := agent{ID: env["AGENT_ID"], Name: env["AGENT_NAME"], Type: env["AGENT_TYPE"], SystemPrompt: cfg.SystemPrompt, Echo: h.echo, ChatFlood: h.chatFlood}
	if llm.base != nil {
		a.Model = newLLMClient(llm, cfg)
	}
	model := offlineName
	if a.Model != nil {
		model = a.Model.name()
	}
	if f := h.logFlood; f.lines > 0 {
		// Before serving, so nothing else writes inside a flood line.
		logger.Printf("warder-agent writing %d lines of %d KiB (%s)", f.lines, f.kib, envLogFlood)
		if err := f.write(logger.Writer()); err != nil {
			return err
		}
	}
	l.h.set(newHandler(a, logger))
	logger.Printf("warder-agent starting agent_id=%s agent_name=%s agent_type=%s port=%d model=%s upstream=%s env=%v",
		quote(a.ID), quote(a.Name), quote(a.Type), port, quote(model), quote(llm.where()), extraEnvNames(env))

	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go h.hold(hctx, logger)
	exitc, stopTimer := h.exitTimer()
	defer stopTimer()
	select {
	case err := <-errc:
		return err
	case <-exitc:
		logger.Printf("warder-agent exiting with code %d (%s)", h.exitCode, envExitCode)
		srv.Close()
		return exitCode(h.exitCode)
	case <-ctx.Done():
	}
	logger.Printf("warder-agent shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), l.drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Printf("warder-agent closing the connections still open after %s", l.drain)
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Printf("warder-agent stopped")
	return nil
}

// health is the image's HEALTHCHECK: the image has no shell or curl.
func health(portEnv string) int {
	port, err := portFrom(portEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "health: status %d\n", resp.StatusCode)
		return 1
	}
	return 0
}

func portFrom(s string) (int, error) {
	if s == "" {
		return 8000, nil
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("PORT %q is not a port number", s)
	}
	return p, nil
}
