package opensandbox

import "time"

// The JSON shapes of OpenSandbox's lifecycle and execd specifications
// (github.com/alibaba/OpenSandbox, specs/), written from the spec for the
// fields Warder reads or writes. Field names are the spec's own: the
// lifecycle API is camelCase, execd's command status is snake_case.

// Sandbox states of the lifecycle spec.
const (
	statePending    = "Pending"
	stateRunning    = "Running"
	statePaused     = "Paused"
	stateStopping   = "Stopping"
	stateTerminated = "Terminated"
	stateFailed     = "Failed"
)

type imageSpec struct {
	URI  string          `json:"uri"`
	Auth *map[string]any `json:"auth,omitempty"`
}

type sandboxStatus struct {
	State            string     `json:"state"`
	Reason           string     `json:"reason,omitempty"`
	Message          string     `json:"message,omitempty"`
	LastTransitionAt *time.Time `json:"lastTransitionAt,omitempty"`
}

type networkRule struct {
	Action string `json:"action"`
	Target string `json:"target,omitempty"`
	Ports  []int  `json:"ports,omitempty"`
}

type networkPolicy struct {
	DefaultAction string        `json:"defaultAction,omitempty"`
	Egress        []networkRule `json:"egress,omitempty"`
}

// createRequest is POST /v1/sandboxes. Fields Warder cannot honour are
// read so that asking for them is a clear 400, not silently dropped.
type createRequest struct {
	Image            *imageSpec        `json:"image"`
	SnapshotID       string            `json:"snapshotId"`
	TemplateID       string            `json:"templateId"`
	Timeout          *int              `json:"timeout"`
	ResourceLimits   map[string]string `json:"resourceLimits"`
	ResourceRequests map[string]string `json:"resourceRequests"`
	Env              map[string]string `json:"env"`
	SecureAccess     bool              `json:"secureAccess"`
	Metadata         map[string]string `json:"metadata"`
	Lifecycle        map[string]any    `json:"lifecycle"`
	Entrypoint       []string          `json:"entrypoint"`
	NetworkPolicy    *networkPolicy    `json:"networkPolicy"`
	CredentialProxy  map[string]any    `json:"credentialProxy"`
	Volumes          []any             `json:"volumes"`
	Extensions       map[string]string `json:"extensions"`
	Platform         map[string]any    `json:"platform"`
}

type sandboxInfo struct {
	ID         string            `json:"id"`
	Image      *imageSpec        `json:"image,omitempty"`
	SnapshotID string            `json:"snapshotId,omitempty"`
	Status     sandboxStatus     `json:"status"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	Entrypoint []string          `json:"entrypoint"`
	ExpiresAt  *time.Time        `json:"expiresAt,omitempty"`
	CreatedAt  time.Time         `json:"createdAt"`
}

type pagination struct {
	Page        int  `json:"page"`
	PageSize    int  `json:"pageSize"`
	TotalItems  int  `json:"totalItems"`
	TotalPages  int  `json:"totalPages"`
	HasNextPage bool `json:"hasNextPage"`
}

type listSandboxes struct {
	Items      []sandboxInfo `json:"items"`
	Pagination pagination    `json:"pagination"`
}

type renewRequest struct {
	ExpiresAt time.Time `json:"expiresAt"`
}

type renewResponse struct {
	ExpiresAt time.Time `json:"expiresAt"`
}

type endpoint struct {
	Endpoint string            `json:"endpoint"`
	Headers  map[string]string `json:"headers,omitempty"`
}

type snapshotStatus struct {
	State            string     `json:"state"`
	Reason           string     `json:"reason,omitempty"`
	Message          string     `json:"message,omitempty"`
	LastTransitionAt *time.Time `json:"lastTransitionAt,omitempty"`
}

type snapshotInfo struct {
	ID        string         `json:"id"`
	SandboxID string         `json:"sandboxId"`
	Name      string         `json:"name,omitempty"`
	Status    snapshotStatus `json:"status"`
	CreatedAt time.Time      `json:"createdAt"`
}

type listSnapshots struct {
	Items      []snapshotInfo `json:"items"`
	Pagination pagination     `json:"pagination"`
}

type policyStatus struct {
	Status          string         `json:"status,omitempty"`
	Mode            string         `json:"mode,omitempty"`
	EnforcementMode string         `json:"enforcementMode,omitempty"`
	Reason          string         `json:"reason,omitempty"`
	Policy          *networkPolicy `json:"policy,omitempty"`
}

// errorBody is the spec's error shape.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// execd's shapes.

type runCommand struct {
	Command    string            `json:"command"`
	Argv       []string          `json:"argv"`
	Cwd        string            `json:"cwd"`
	Background bool              `json:"background"`
	Timeout    int64             `json:"timeout"` // milliseconds
	UID        *int32            `json:"uid"`
	GID        *int32            `json:"gid"`
	Envs       map[string]string `json:"envs"`
}

type commandStatus struct {
	ID         string     `json:"id"`
	Content    string     `json:"content"`
	Running    bool       `json:"running"`
	ExitCode   *int32     `json:"exit_code,omitempty"`
	Error      string     `json:"error,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// streamEvent is one event of a command's SSE stream.
type streamEvent struct {
	Type          string      `json:"type"`
	Text          string      `json:"text,omitempty"`
	Timestamp     int64       `json:"timestamp"`
	ExitCode      *int        `json:"exit_code,omitempty"`
	ExecutionTime int64       `json:"execution_time,omitempty"`
	Error         *eventError `json:"error,omitempty"`
}

type eventError struct {
	EName     string   `json:"ename"`
	EValue    string   `json:"evalue"`
	Traceback []string `json:"traceback"`
	ExitCode  *int     `json:"exit_code,omitempty"`
}

type fileInfo struct {
	Path       string    `json:"path"`
	Type       string    `json:"type,omitempty"`
	Size       int64     `json:"size"`
	ModifiedAt time.Time `json:"modified_at"`
	CreatedAt  time.Time `json:"created_at"`
	Owner      string    `json:"owner"`
	Group      string    `json:"group"`
	Mode       int       `json:"mode"`
}

type permission struct {
	Owner string `json:"owner"`
	Group string `json:"group"`
	Mode  int    `json:"mode"`
}

type moveItem struct {
	Src  string `json:"src"`
	Dest string `json:"dest"`
}

type replaceItem struct {
	Old string `json:"old"`
	New string `json:"new"`
}

type fileMetadata struct {
	Path  string `json:"path"`
	Owner string `json:"owner"`
	Group string `json:"group"`
	Mode  int    `json:"mode"`
}

type metrics struct {
	CPUCount   float64 `json:"cpu_count"`
	CPUUsedPct float64 `json:"cpu_used_pct"`
	MemTotalMB float64 `json:"mem_total_mib"`
	MemUsedMB  float64 `json:"mem_used_mib"`
	Timestamp  int64   `json:"timestamp"`
}
