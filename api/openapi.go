package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/warder/warder"
)

// op describes one route for the OpenAPI document. Bodies and answers are
// given as values of their wire types, whose schemas are derived from the
// types themselves (schema.go).
type op struct {
	// id is the operationId: unique, in lowerCamelCase, the name a
	// generated client gives the call (listAgents, startAgent). A pattern
	// without a method is one operation per method, the method appended.
	id      string
	summary string
	// alias marks a second spelling of another route, kept for the
	// original Warder's clients: documented, and deprecated so generated
	// clients prefer the first.
	alias  bool
	tag    string
	public bool
	// body is the request body's type; form says it may come as an
	// OAuth2 password form instead of JSON.
	body any
	form bool
	// status and resp are the success; resp nil means no JSON body.
	status int
	resp   any
	// text is the content type of a success that is not JSON; also are
	// more such types.
	text string
	also []string
	// raw are the content types of a request body that is bytes (an
	// upload), not JSON.
	raw []string
	// events, when set, are the Server-Sent Events the route may answer
	// with instead, by event name ("message" for unnamed ones).
	events map[string]any
	query  []param
	// headers are the response headers of a success worth naming, with
	// what each holds.
	headers map[string]string
	// errors are the statuses this route answers besides those every
	// route of its kind may (see errorsOf).
	errors []int
}

// param is a query parameter.
type param struct {
	name, typ, doc string
}

var (
	qLimit   = param{"limit", "integer", "at most this many"}
	qSince   = param{"since", "string", "RFC 3339 time, Unix seconds, or a duration before now such as 10m"}
	qKeep    = param{"keep_workspace", "boolean", "keep the agent's workspace (GET /api/workspaces lists it)"}
	qKeepSn  = param{"keep_snapshots", "boolean", "keep the agent's snapshots (GET /api/snapshots lists them); by default they are deleted with it"}
	endEvent = map[string]any{"end": warder.StreamEnd{}, "error": warder.ErrorResponse{}}

	agentListQuery = []param{
		{"limit", "integer", "a page of at most this many agents (1 to 1000); without it, every agent"},
		{"cursor", "string", "continue after the page whose X-Next-Cursor this is (opaque)"},
		{"status", "string", "only agents in this status; several comma-separated (or the parameter repeated) for any of them"},
		{"name", "string", "only the agent of exactly this name"},
		{"name_prefix", "string", "only agents whose name starts with this (case-sensitive)"},
		{"user_id", "string", "admins: only this user's agents; others may name only themselves"},
	}
	agentListHeaders = map[string]string{
		"X-Next-Cursor": "the cursor of the next page; absent on the last page and without ?limit=",
		"Link":          `<the next page's URL>; rel="next", when there is a next page`,
	}
)

func withEnd(events map[string]any) map[string]any {
	for k, v := range endEvent {
		events[k] = v
	}
	return events
}

// ops describes every route in routeTable, by its pattern; the test
// TestOpenAPICoversRoutes fails if one is missing or names no route.
var ops = map[string]op{
	"GET /healthz":          {id: "getLiveness", summary: "The process is up", tag: "system", public: true, status: 200, resp: warder.HealthResponse{}},
	"GET /health":           {id: "getHealth", summary: "The process is up (alias of /healthz, for the original Warder's clients)", tag: "system", public: true, status: 200, resp: warder.HealthResponse{}},
	"GET /readyz":           {id: "getReadiness", summary: "The database and the runtime answer", tag: "system", public: true, status: 200, resp: warder.HealthResponse{}, errors: []int{503}},
	"GET /metrics":          {id: "getMetrics", summary: "Prometheus metrics", tag: "system", public: true, status: 200, text: "text/plain", errors: []int{404}},
	"GET /api/openapi.json": {id: "getOpenAPI", summary: "This document", tag: "system", public: true, status: 200, resp: map[string]any{}},
	"GET /openapi.json":     {id: "getOpenAPIRoot", summary: "This document (alias of /api/openapi.json, where FastAPI serves it)", tag: "system", public: true, status: 200, resp: map[string]any{}},

	"POST /api/auth/register":    {id: "register", summary: "Create an account; the first one of an empty server is the admin", tag: "auth", public: true, body: warder.RegisterRequest{}, status: 201, resp: warder.User{}, errors: []int{400, 403, 409, 413, 429, 503}},
	"POST /api/auth/login":       {id: "login", summary: "Exchange a username (or email) and password for a bearer token; JSON or an OAuth2 password form", tag: "auth", public: true, body: warder.LoginRequest{}, form: true, status: 200, resp: warder.TokenResponse{}, errors: []int{400, 401, 403, 413, 429, 503}},
	"POST /api/auth/token":       {id: "loginForm", summary: "The OAuth2 password flow: a form with username, password and grant_type=password", tag: "auth", public: true, form: true, status: 200, resp: warder.TokenResponse{}, errors: []int{400, 401, 403, 413, 429, 503}},
	"POST /api/auth/refresh":     {id: "refreshToken", summary: "Exchange a refresh token, good once, for a new access token and refresh token; JSON or the OAuth2 refresh form (grant_type=refresh_token)", tag: "auth", public: true, body: warder.RefreshRequest{}, status: 200, resp: warder.TokenResponse{}, errors: []int{400, 401, 413, 503}},
	"POST /api/auth/logout":      {id: "logout", summary: "Revoke the token (or API key) this request is made with", tag: "auth", status: 200, resp: warder.MessageResponse{}},
	"GET /api/auth/me":           {id: "getMe", summary: "Who the caller is", tag: "auth", status: 200, resp: warder.Me{}},
	"GET /api/users/me":          {id: "getUsersMe", summary: "Who the caller is (alias of /api/auth/me, for the original Warder's clients)", tag: "auth", status: 200, resp: warder.Me{}},
	"POST /api/auth/keys":        {id: "createAPIKey", summary: "Make an API key; its secret is shown this once", tag: "auth", body: warder.APIKeyCreate{}, status: 201, resp: warder.APIKeyCreated{}},
	"GET /api/auth/keys":         {id: "listAPIKeys", summary: "The caller's API keys", tag: "auth", status: 200, resp: []*warder.APIKey{}},
	"DELETE /api/auth/keys/{id}": {id: "deleteAPIKey", summary: "Revoke an API key and the keys made with it", tag: "auth", status: 200, resp: warder.MessageResponse{}},

	"GET /api/system/limits":             {id: "getLimits", summary: "The caller's limits and use", tag: "system", status: 200, resp: warder.Usage{}},
	"GET /api/system/status":             {id: "getSystemStatus", summary: "Overall health and use (admins)", tag: "system", status: 200, resp: warder.SystemStatus{}},
	"GET /api/admin/users":               {id: "listUsers", summary: "Every user (admins)", tag: "admin", status: 200, resp: []*warder.User{}},
	"POST /api/admin/users":              {id: "createUser", summary: "Create a plain user (admins)", tag: "admin", body: warder.RegisterRequest{}, status: 201, resp: warder.User{}, errors: []int{409}},
	"POST /api/admin/users/{id}/disable": {id: "disableUser", summary: "Disable a user: their credentials end, their agents stop (admins)", tag: "admin", status: 200, resp: warder.MessageResponse{}, errors: []int{409}},
	"POST /api/admin/users/{id}/enable":  {id: "enableUser", summary: "Enable a user again (admins)", tag: "admin", status: 200, resp: warder.MessageResponse{}},
	"GET /api/admin/users/{id}/limits":   {id: "getUserLimits", summary: "A user's limits and use (admins)", tag: "admin", status: 200, resp: warder.Usage{}},
	"PUT /api/admin/users/{id}/limits":   {id: "setUserLimits", summary: "Override a user's quotas; null is the default (admins)", tag: "admin", body: warder.Limits{}, status: 200, resp: warder.Usage{}},

	"POST /api/agents":              {id: "createAgent", summary: "Create an agent", tag: "agents", body: warder.AgentCreate{}, status: 201, resp: warder.Agent{}, errors: []int{409, 503}},
	"POST /api/agents/{$}":          {id: "createAgentWithSlash", alias: true, summary: "Create an agent (the seed's spelling, with a slash)", tag: "agents", body: warder.AgentCreate{}, status: 201, resp: warder.Agent{}, errors: []int{409, 503}},
	"GET /api/agents":               {id: "listAgents", summary: "The caller's agents (an admin's: all), oldest first; all at once, or a page with ?limit= (the next page's cursor in X-Next-Cursor and Link)", tag: "agents", status: 200, resp: []*warder.Agent{}, query: agentListQuery, headers: agentListHeaders},
	"GET /api/agents/{$}":           {id: "listAgentsWithSlash", alias: true, summary: "The caller's agents (with a slash); as GET /api/agents", tag: "agents", status: 200, resp: []*warder.Agent{}, query: agentListQuery, headers: agentListHeaders},
	"GET /api/agents/{id}":          {id: "getAgent", summary: "One agent", tag: "agents", status: 200, resp: warder.Agent{}},
	"PUT /api/agents/{id}":          {id: "replaceAgent", summary: "Change the fields given, keeping those left out (as the original Warder did)", tag: "agents", body: warder.AgentReplace{}, status: 200, resp: warder.Agent{}, errors: []int{409}},
	"PATCH /api/agents/{id}":        {id: "updateAgent", summary: "Change the fields given", tag: "agents", body: warder.AgentUpdate{}, status: 200, resp: warder.Agent{}, errors: []int{409}},
	"DELETE /api/agents/{id}":       {id: "deleteAgent", summary: "Remove the container, free the port, delete the agent and its workspace (keep_workspace=true keeps it)", tag: "agents", status: 200, resp: warder.MessageResponse{}, errors: []int{409, 503}, query: []param{qKeep, qKeepSn}},
	"POST /api/agents/{id}/start":   {id: "startAgent", summary: "Create the container if there is none, then start it", tag: "agents", status: 200, resp: warder.MessageResponse{}, errors: []int{409, 503}},
	"POST /api/agents/{id}/stop":    {id: "stopAgent", summary: "Stop the container (it and its port are kept)", tag: "agents", status: 200, resp: warder.MessageResponse{}, errors: []int{409, 503}},
	"POST /api/agents/{id}/restart": {id: "restartAgent", summary: "Stop, then start", tag: "agents", status: 200, resp: warder.MessageResponse{}, errors: []int{409, 503}},
	"POST /api/agents/{id}/pause":   {id: "pauseAgent", summary: "Freeze a running agent, keeping its memory and port (the next request resumes it)", tag: "agents", status: 200, resp: warder.Agent{}, errors: []int{403, 409, 501, 503}},
	"POST /api/agents/{id}/resume":  {id: "resumeAgent", summary: "Resume a paused agent", tag: "agents", status: 200, resp: warder.Agent{}, errors: []int{403, 409, 501, 503}},
	"GET /api/agents/{id}/logs": {id: "getAgentLogs", summary: "The container's output; streamed with follow=true or Accept: text/event-stream (plain text lines when following without SSE)", tag: "agents",
		status: 200, resp: warder.LogsResponse{}, text: "text/plain",
		events: withEnd(map[string]any{"stdout": warder.LogLine{}, "stderr": warder.LogLine{}}),
		query:  []param{{"lines", "lines", "lines from the end (default 100), or all"}, {"timestamps", "boolean", "with each line's time"}, qSince, {"follow", "boolean", "keep sending new lines until the container stops"}},
		errors: []int{409, 413, 503}},
	"GET /api/agents/{id}/stats": {id: "getAgentStats", summary: "The newest resource sample; ?history= adds the samples kept, ?stream=true streams them", tag: "agents",
		status: 200, resp: warder.StatsResponse{}, events: withEnd(map[string]any{"stats": warder.StatsView{}}),
		query:  []param{{"history", "string", "a duration such as 5m: also answer the samples of that long (as StatsHistoryResponse)"}, {"stream", "boolean", "send each sample as a stats event"}},
		errors: []int{409, 503}},
	"GET /api/agents/{id}/usage":  {id: "getAgentUsage", summary: "The agent's LLM gateway usage today and this month (UTC), by model, with its token budget and its owner's (docs/egress.md)", tag: "agents", status: 200, resp: warder.AgentLLMUsage{}, errors: []int{501}},
	"GET /api/agents/{id}/egress": {id: "getAgentEgress", summary: "The agent's egress policy in force (container_config.egress within the operator's ceiling) and the egress proxy's refusals of the last day, by destination and reason (docs/egress.md)", tag: "agents", status: 200, resp: warder.AgentEgress{}, errors: []int{501}},
	"GET /api/agents/{id}/events": {id: "listAgentEvents", summary: "The agent's status history, oldest first", tag: "agents", status: 200, resp: warder.AgentEventsResponse{}, query: []param{qLimit}},
	"POST /api/agents/{id}/chat": {id: "chatWithAgent", summary: "Send a message and get the agent's answer, whole or streamed as it is written; starts the agent if need be", tag: "chat",
		body: warder.ChatRequest{}, status: 200, resp: warder.ChatReply{},
		events: map[string]any{"message": warder.ChatPiece{}, "done": warder.ChatReply{}, "error": warder.ErrorResponse{}},
		errors: []int{409, 502, 503}},
	"POST /api/agents/{id}/query": {id: "queryAgent", summary: "The original Warder's name for chat: the same body (query for content) and answer", tag: "chat",
		body: warder.ChatRequest{}, status: 200, resp: warder.ChatReply{},
		events: map[string]any{"message": warder.ChatPiece{}, "done": warder.ChatReply{}, "error": warder.ErrorResponse{}},
		errors: []int{409, 502, 503}},
	"GET /api/agents/{id}/conversations":       {id: "listConversations", summary: "The agent's conversations, most recently used first", tag: "chat", status: 200, resp: warder.ConversationsResponse{}, query: []param{qLimit}},
	"GET /api/agents/{id}/conversations/{cid}": {id: "getConversation", summary: "One conversation with its latest messages, oldest first", tag: "chat", status: 200, resp: warder.ConversationDetail{}, query: []param{qLimit}},
	"GET /api/agents/{id}/files/{path...}": {id: "getFile", summary: "A file of the agent's workspace (/data) as its bytes, a directory as a JSON listing, or either as a tar with ?format=tar; works while the agent is stopped", tag: "files",
		status: 200, resp: warder.DirListing{}, text: "application/octet-stream", also: []string{"application/x-tar"},
		query: []param{{"format", "string", "tar: the file or directory as a tar"}}, errors: []int{409, 501, 503}},
	uploadRoute: {id: "putFile", summary: "Write a file of the agent's workspace from the body's bytes, or extract a tar (Content-Type: application/x-tar or ?format=tar) into a directory; checked whole before anything is written", tag: "files",
		raw: []string{"application/octet-stream", "application/x-tar"}, status: 200, resp: warder.FileWritten{},
		query: []param{{"format", "string", "tar: the body is a tar to extract into the directory path"}}, errors: []int{400, 409, 413, 501, 503}},
	"DELETE /api/agents/{id}/files/{path...}": {id: "deleteFile", summary: "Delete a file or a directory and everything under it from the agent's workspace", tag: "files", status: 200, resp: warder.MessageResponse{}, errors: []int{409, 501, 503}},
	"POST /api/agents/{id}/exec": {id: "execInAgent", summary: "Run a command in the running agent, as its own user; its output streams as stdout and stderr events, then exit", tag: "files",
		body: warder.ExecRequest{}, status: 200, events: map[string]any{"stdout": warder.ExecOutput{}, "stderr": warder.ExecOutput{}, "exit": warder.ExecResult{}, "error": warder.ErrorResponse{}},
		errors: []int{409, 501, 503}},
	"GET /api/agents/{id}/terminal": {id: "openTerminal", summary: "An interactive terminal in the running agent, as a WebSocket (subprotocol warder.terminal.v1; a browser offers its token as the subprotocol warder.token.TOKEN): binary messages carry what is typed and drawn, JSON text messages resize ({type: resize, cols, rows}) and end it ({type: exit, exit_code, reason} or {type: error, detail}); see docs/terminal.md", tag: "files",
		status: 101, query: []param{{"cmd", "string", "the command, one element per repeat; none is the agent's shell"}, {"cols", "integer", "columns (default 80)"}, {"rows", "integer", "rows (default 24)"}},
		errors: []int{400, 403, 409, 429, 501, 503}},
	"POST /api/agents/{id}/snapshots": {id: "takeSnapshot", summary: "Save the agent's workspace and settings (secrets stay sealed) as a snapshot; the owner's bounds are checked first", tag: "snapshots",
		body: warder.SnapshotRequest{}, status: 201, resp: warder.Snapshot{}, errors: []int{409, 413, 501, 503}},
	"GET /api/agents/{id}/snapshots": {id: "listSnapshots", summary: "The agent's snapshots, oldest first, with their sizes (also a deleted agent's, kept with keep_snapshots=true)", tag: "snapshots",
		status: 200, resp: warder.SnapshotsResponse{}, errors: []int{501, 503}},
	"DELETE /api/agents/{id}/snapshots/{sid}": {id: "deleteSnapshot", summary: "Delete one of the agent's snapshots", tag: "snapshots", status: 200, resp: warder.MessageResponse{}, errors: []int{501, 503}},
	"POST /api/agents/{id}/snapshots/{sid}/restore": {id: "restoreSnapshot", summary: "Put the agent's workspace back to the snapshot (verified whole first; a running agent is stopped, restored and started again)", tag: "snapshots",
		status: 200, resp: warder.Agent{}, errors: []int{409, 501, 503}},
	"POST /api/agents/{id}/fork": {id: "forkAgent", summary: "A new agent of the caller's with the agent's settings and a copy of its workspace, now or as a snapshot holds it; started if asked", tag: "snapshots",
		body: warder.ForkRequest{}, status: 201, resp: warder.Agent{}, errors: []int{409, 413, 501, 503}},
	"GET /api/usage":                {id: "getUsage", summary: "LLM gateway usage this month (UTC), by agent and model, with the budgets: the caller's own; an admin's, every user's (docs/egress.md)", tag: "system", status: 200, resp: warder.LLMUsageReport{}, errors: []int{501}},
	"GET /api/snapshots":            {id: "listAllSnapshots", summary: "The caller's snapshots (an admin's: all), those of deleted agents among them", tag: "snapshots", status: 200, resp: warder.SnapshotsResponse{}, errors: []int{501, 503}},
	"GET /api/workspaces":           {id: "listWorkspaces", summary: "The caller's workspaces (an admin's: all), those of deleted agents kept with keep_workspace among them, with their sizes", tag: "files", status: 200, resp: warder.WorkspacesResponse{}, errors: []int{501, 503}},
	"DELETE /api/workspaces/{name}": {id: "deleteWorkspace", summary: "Delete a kept workspace (one whose agent was deleted with keep_workspace=true)", tag: "files", status: 200, resp: warder.MessageResponse{}, errors: []int{409, 501, 503}},
	proxyRoute:                      {id: "proxyToAgent", summary: "Forward any request to the agent's own port as /{path}; the agent's answer comes back as it is", tag: "chat", status: 200, text: "*/*", errors: []int{502, 503}},
	"GET /api/events": {id: "followEvents", summary: "Status changes of the caller's agents (an admin's: all) as Server-Sent Events, each with its id; a client that reconnects with Last-Event-ID first gets those it missed (kept for an hour on PostgreSQL)", tag: "agents",
		status: 200, events: withEnd(map[string]any{"status": warder.StatusChange{}}), errors: []int{400}},
	mcpRoute: {id: "mcp", summary: "The Model Context Protocol (streamable HTTP, stateless, JSON-RPC 2.0): tools to list, inspect, create, start, stop and delete agents, exec, files, chat and logs, each calling this API with the caller's credential; a read-only key lists only the read-only tools", tag: "mcp",
		raw: []string{"application/json"}, status: 200, text: "application/json", also: []string{"text/event-stream"}, errors: []int{400, 413}},
	"GET /api/audit": {id: "listAuditEntries", summary: "The audit log, newest first (admins)", tag: "admin", status: 200, resp: warder.AuditResponse{},
		query: []param{{"user", "string", "a user id or username"}, {"agent", "string", "an agent id"}, qSince, {"until", "string", "as since"}, qLimit}},
}

// requestRequired is what each request body must hold.
var requestRequired = map[reflect.Type][]string{
	reflect.TypeOf(warder.RegisterRequest{}): {"username", "email", "password"},
	reflect.TypeOf(warder.LoginRequest{}):    {"username", "password"},
	reflect.TypeOf(warder.APIKeyCreate{}):    {"name"},
	reflect.TypeOf(warder.AgentCreate{}):     {"name"},
	reflect.TypeOf(warder.ChatRequest{}):     {"content"},
	reflect.TypeOf(warder.ExecRequest{}):     {"cmd"},
	reflect.TypeOf(warder.SnapshotRequest{}): {"name"},
	reflect.TypeOf(warder.ForkRequest{}):     {"name"},
}

// openAPIPath turns a ServeMux pattern into an OpenAPI method and path:
// "POST /api/agents/{$}" is post /api/agents/, "{path...}" is {path}. A
// pattern without a method is every method.
func openAPIPath(pattern string) (methods []string, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		path, method = pattern, ""
	}
	path = strings.ReplaceAll(path, "{$}", "")
	path = strings.ReplaceAll(path, "...}", "}")
	if method == "" {
		return []string{"get", "post", "put", "patch", "delete"}, path
	}
	return []string{strings.ToLower(method)}, path
}

// errorsOf is every error status the route may answer.
func errorsOf(pattern string, o op) []int {
	set := map[int]bool{}
	for _, s := range o.errors {
		set[s] = true
	}
	if !o.public {
		set[401], set[403], set[429] = true, true, true // no credential; not allowed or a read-only key; too many streams
		set[503] = true                                 // the credential is checked in the database, which may be down
	}
	if o.body != nil || o.form {
		set[400], set[413] = true, true
	}
	if strings.Contains(pattern, "{") {
		set[400], set[404] = true, true
	}
	if len(o.query) > 0 {
		set[400] = true
	}
	var list []int
	for s := range set {
		list = append(list, s)
	}
	sort.Ints(list)
	return list
}

// openAPIDocument builds the document for the given route patterns.
func openAPIDocument(patterns []string) map[string]any {
	g := newSchemaGen(requestRequired)
	paths := map[string]map[string]any{}
	// Answers first, so a type used both ways keeps its plain name there.
	for _, request := range []bool{false, true} {
		for _, p := range patterns {
			o, ok := ops[p]
			if !ok {
				continue
			}
			methods, path := openAPIPath(p)
			for _, m := range methods {
				if !request {
					if paths[path] == nil {
						paths[path] = map[string]any{}
					}
					paths[path][m] = operation(g, p, m, path, o)
				} else if o.body != nil || o.form || o.raw != nil {
					paths[path][m].(map[string]any)["requestBody"] = requestBody(g, o)
				}
			}
		}
	}
	// Named by every error, and by ?history= of stats.
	g.of(reflect.TypeOf(warder.ErrorResponse{}), false)
	g.of(reflect.TypeOf(warder.StatsHistoryResponse{}), false)
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Warder",
			"version":     "1",
			"description": "A control plane for AI-agent containers. Every error is {\"detail\": \"...\"} (ErrorResponse), and each error status is a named response. Streams are Server-Sent Events; x-events names each event's data.",
		},
		// Relative: the server this document was fetched from.
		"servers": []any{map[string]any{"url": "/", "description": "the Warder serving this document"}},
		"paths":   paths,
		"components": map[string]any{
			"schemas":   g.defs,
			"responses": errorResponses(),
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "a login token from POST /api/auth/login"},
				"apiKey": map[string]any{"type": "apiKey", "in": "header", "name": "Authorization",
					"description": "an API key from POST /api/auth/keys, sent as `Authorization: Bearer wdk_...`"},
				"oauth2": map[string]any{"type": "oauth2", "flows": map[string]any{
					"password": map[string]any{"tokenUrl": "/api/auth/token", "scopes": map[string]any{}}}},
			},
		},
	}
}

func operation(g *schemaGen, pattern, method, path string, o op) map[string]any {
	opID := o.id
	if !strings.Contains(pattern, " ") { // every method: one operation each
		opID += strings.ToUpper(method[:1]) + method[1:]
	}
	out := map[string]any{"summary": o.summary, "tags": []string{o.tag}, "operationId": opID}
	if o.alias {
		out["deprecated"] = true
	}
	if o.public {
		out["security"] = []any{}
	} else {
		out["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{"apiKey": []string{}}, map[string]any{"oauth2": []string{}}}
	}
	var params []any
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") {
			params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
	}
	for _, q := range o.query {
		schema := map[string]any{"type": q.typ}
		if q.typ == "lines" {
			// A count or "all": a string a count or the word matches.
			schema = map[string]any{"type": "string", "pattern": "^([0-9]+|all)$"}
		}
		params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.doc, "schema": schema})
	}
	if params != nil {
		out["parameters"] = params
	}
	content := map[string]any{}
	if o.resp != nil {
		content["application/json"] = map[string]any{"schema": g.of(reflect.TypeOf(o.resp), false)}
	}
	for _, t := range append([]string{o.text}, o.also...) {
		if t != "" {
			content[t] = map[string]any{"schema": map[string]any{"type": "string"}}
		}
	}
	if o.events != nil {
		events := map[string]any{}
		for name, v := range o.events {
			events[name] = g.of(reflect.TypeOf(v), false)
		}
		content["text/event-stream"] = map[string]any{"schema": map[string]any{"type": "string"}, "x-events": events}
	}
	success := map[string]any{"description": http.StatusText(o.status)}
	if len(content) > 0 {
		success["content"] = content
	}
	if len(o.headers) > 0 {
		headers := map[string]any{}
		for name, doc := range o.headers {
			headers[name] = map[string]any{"description": doc, "schema": map[string]any{"type": "string"}}
		}
		success["headers"] = headers
	}
	responses := map[string]any{itoa(o.status): success}
	for _, s := range append(errorsOf(pattern, o), http.StatusInternalServerError) {
		responses[itoa(s)] = map[string]any{"$ref": "#/components/responses/" + errorNames[s]}
	}
	out["responses"] = responses
	return out
}

// errorNames names each error status's response among the components:
// every error answer is one of these, all {"detail": "..."}.
var errorNames = map[int]string{
	400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
	409: "Conflict", 413: "PayloadTooLarge", 429: "TooManyRequests",
	500: "InternalError", 501: "NotImplemented", 502: "BadGateway", 503: "ServiceUnavailable",
}

// errorDocs says what each error status means here.
var errorDocs = map[int]string{
	400: "The request is malformed or invalid; the detail says what is wrong",
	401: "No credential, or one that is not (or no longer) valid",
	403: "The credential may not do this (not an admin, a read-only API key, a disabled user)",
	404: "No such resource, or one the caller may not see",
	409: "The resource's state forbids this now (a name taken, an agent not running)",
	413: "The body, or what it asks for, is too large",
	429: "Too many attempts or streams; try again later",
	500: "Internal error: the detail names the request id",
	501: "The runtime cannot do this",
	502: "The agent did not answer as it should",
	503: "The database or the runtime is unavailable",
}

// errorResponses are the named error answers.
func errorResponses() map[string]any {
	out := map[string]any{}
	for s, name := range errorNames {
		out[name] = map[string]any{
			"description": errorDocs[s],
			"content":     map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/ErrorResponse"}}},
		}
	}
	return out
}

func requestBody(g *schemaGen, o op) map[string]any {
	content := map[string]any{}
	if o.body != nil {
		content["application/json"] = map[string]any{"schema": g.of(reflect.TypeOf(o.body), true)}
	}
	for _, t := range o.raw {
		content[t] = map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": t}}
	}
	if o.form {
		content["application/x-www-form-urlencoded"] = map[string]any{"schema": map[string]any{
			"type": "object", "required": []string{"username", "password"},
			"properties": map[string]any{
				"username":   map[string]any{"type": "string"},
				"password":   map[string]any{"type": "string"},
				"grant_type": map[string]any{"type": "string", "enum": []string{"password"}},
			}}}
	}
	return map[string]any{"required": true, "content": content}
}

func itoa(n int) string { return strconv.Itoa(n) }

// openAPIJSON is the document, built once.
type openAPIJSON struct {
	once sync.Once
	doc  []byte
}

// openapi serves the OpenAPI 3.1 document of this server's routes.
func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	s.openAPI.once.Do(func() {
		s.openAPI.doc, _ = json.Marshal(openAPIDocument(s.patterns))
	})
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.openAPI.doc)
	return nil
}
