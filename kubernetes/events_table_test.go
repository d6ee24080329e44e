package kubernetes

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/warder/warder"
)

// Table tests of the pure parts of the watch and of exec: which event
// words a sequence of Pod updates becomes, and how exec's answers map to
// exit codes and errors. No API server: a watch is read from a string.

// watchLine is one watch event of the agent Pod "w" as the API server
// writes it: its type, resource version, phase and the agent container's
// state and restart count.
func watchLine(typ, rv, phase, state string, restarts int) string {
	if state == "" {
		state = "{}"
	}
	return fmt.Sprintf(`{"type":%q,"object":{"metadata":{"name":"w","resourceVersion":%q,"labels":{"warder.agent.id":"a1"},
		"annotations":{"warder.io/workload":"uid-1"}},"spec":{"restartPolicy":"Always","containers":[{"name":"agent","ports":[{"containerPort":8000}]}]},
		"status":{"phase":%q,"podIP":"10.0.0.1","containerStatuses":[{"name":"agent","restartCount":%d,"state":%s}]}}}`, typ, rv, phase, restarts, state)
}

// TestFollowEventWords: each change of a watched Pod becomes the event
// word Warder's core knows (created, started, exited, oom_killed,
// removed, changed), once per change, with the workload's id and agent.
func TestFollowEventWords(t *testing.T) {
	const (
		running  = `{"running":{"startedAt":"2026-12-01T09:00:00Z"}}`
		creating = `{"waiting":{"reason":"ContainerCreating"}}`
		exited   = `{"terminated":{"exitCode":1,"reason":"Error"}}`
		oomed    = `{"terminated":{"exitCode":137,"reason":"OOMKilled"}}`
		badImage = `{"waiting":{"reason":"ErrImagePull","message":"not found"}}`
	)
	tests := []struct {
		name    string
		seen    map[string]podSeen // from the list before the watch
		lines   []string
		want    []warder.EventKind
		version string
	}{
		{"a life", nil, []string{
			watchLine("ADDED", "1", "Pending", "", 0),
			watchLine("MODIFIED", "2", "Pending", creating, 0),
			watchLine("MODIFIED", "3", "Running", running, 0),
			watchLine("MODIFIED", "4", "Running", running, 0), // readiness, say
			watchLine("MODIFIED", "5", "Running", exited, 0),
			watchLine("MODIFIED", "6", "Running", exited, 0),
			watchLine("DELETED", "7", "Running", exited, 0),
		}, []warder.EventKind{warder.EventCreated, warder.EventChanged, warder.EventStarted, warder.EventChanged,
			warder.EventExited, warder.EventChanged, warder.EventRemoved}, "7"},
		{"OOM kill: oom_killed, then exited", nil, []string{
			watchLine("ADDED", "1", "Running", running, 0),
			watchLine("MODIFIED", "2", "Running", oomed, 0),
		}, []warder.EventKind{warder.EventCreated, warder.EventOOMKilled, warder.EventExited}, "2"},
		{"restarted between two events: started again", nil, []string{
			watchLine("ADDED", "1", "Running", running, 0),
			watchLine("MODIFIED", "2", "Running", running, 1),
		}, []warder.EventKind{warder.EventCreated, warder.EventStarted}, "2"},
		{"exited again after a restart", nil, []string{
			watchLine("ADDED", "1", "Running", exited, 0),
			watchLine("MODIFIED", "2", "Running", exited, 1),
		}, []warder.EventKind{warder.EventCreated, warder.EventExited}, "2"},
		{"a start that fails is an exit", nil, []string{
			watchLine("ADDED", "1", "Pending", "", 0),
			watchLine("MODIFIED", "2", "Pending", badImage, 0),
		}, []warder.EventKind{warder.EventCreated, warder.EventExited}, "2"},
		{"already running when listed: no second start", map[string]podSeen{"w": {running: true}}, []string{
			watchLine("MODIFIED", "9", "Running", running, 0),
		}, []warder.EventKind{warder.EventChanged}, "9"},
		{"bookmarks move the version only", nil, []string{
			`{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"40"}}}`,
			watchLine("MODIFIED", "41", "Running", running, 0),
			`{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"50"}}}`,
		}, []warder.EventKind{warder.EventStarted}, "50"},
		{"an empty watch keeps the version", nil, nil, nil, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := tt.seen
			if seen == nil {
				seen = map[string]podSeen{}
			}
			var got []warder.EventKind
			version, err := (&Runtime{}).follow(strings.NewReader(strings.Join(tt.lines, "\n")), "0", seen, func(e warder.WorkloadEvent) {
				if e.ContainerID != "w/uid-1" || e.AgentID != "a1" || e.Time.IsZero() {
					t.Errorf("event %+v: want id w/uid-1, agent a1, a time", e)
				}
				got = append(got, e.Kind)
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) || version != tt.version {
				t.Errorf("events %v at version %q, want %v at %q", got, version, tt.want, tt.version)
			}
			if slices.Contains(got, warder.EventRemoved) {
				if _, ok := seen["w"]; ok {
					t.Error("a deleted pod is still remembered")
				}
			}
		})
	}
	for name, body := range map[string]string{
		"the API server ends the watch with an error": watchLine("ADDED", "1", "Pending", "", 0) + `{"type":"ERROR","object":{"kind":"Status","code":410}}`,
		"not JSON":                watchLine("ADDED", "1", "Pending", "", 0) + "\n<html>",
		"an event past the bound": `{"type":"ADDED","object":{"metadata":{"name":"` + strings.Repeat("x", maxWatchEventBytes) + `"}}}`,
	} {
		version, err := (&Runtime{}).follow(strings.NewReader(body), "0", map[string]podSeen{}, func(warder.WorkloadEvent) {})
		if !errors.Is(err, warder.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable (resync)", name, err)
		}
		if name != "an event past the bound" && version != "1" {
			t.Errorf("%s: version %q, want the last one read", name, version)
		}
	}
}

// TestExecStatusExitCode reads the exit code from the error channel's
// status: 0 on success, the ExitCode cause of a non-zero exit, else 127
// with the message (the exec itself failed).
func TestExecStatusExitCode(t *testing.T) {
	tests := []struct {
		status string
		code   int
		msg    string
	}{
		{`{"status":"Success"}`, 0, ""},
		{`{"status":"Failure","reason":"NonZeroExitCode","message":"command terminated with non-zero exit code: error executing command [false], exit code 1",
			"details":{"causes":[{"reason":"ExitCode","message":"1"}]}}`, 1, ""},
		{`{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"Other","message":"x"},{"reason":"ExitCode","message":"137"}]}}`, 137, ""},
		{`{"status":"Failure","reason":"NonZeroExitCode","message":"odd","details":{"causes":[{"reason":"ExitCode","message":"many"}]}}`, 127, "odd"},
		{`{"status":"Failure","message":"exec: \"nope\": executable file not found in $PATH"}`, 127, `exec: "nope": executable file not found in $PATH`},
		{`{}`, 127, ""},
	}
	for _, tt := range tests {
		var s execStatus
		if err := json.Unmarshal([]byte(tt.status), &s); err != nil {
			t.Fatal(err)
		}
		if code, msg := s.exitCode(); code != tt.code || msg != tt.msg {
			t.Errorf("%s: %d %q, want %d %q", tt.status, code, msg, tt.code, tt.msg)
		}
	}
}

// TestExecDialError maps a refused exec upgrade to Warder's kinds.
func TestExecDialError(t *testing.T) {
	tests := []struct {
		resp *http.Response
		kind error
	}{
		{nil, warder.ErrUnavailable},
		{&http.Response{StatusCode: http.StatusNotFound}, warder.ErrNotFound},
		{&http.Response{StatusCode: http.StatusBadRequest}, warder.ErrConflict},
		{&http.Response{StatusCode: http.StatusForbidden}, warder.ErrUnavailable},
		{&http.Response{StatusCode: http.StatusInternalServerError}, warder.ErrUnavailable},
	}
	for _, tt := range tests {
		err := execDialError("warder-agent-a1", tt.resp, errors.New("refused"))
		if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), "warder-agent-a1") {
			t.Errorf("%+v: %v, want %v naming the pod", tt.resp, err, tt.kind)
		}
	}
}

// TestWrapExec: the command runs under with-env, its env as sorted
// KEY=VALUE arguments before "--", so no value is read as the command.
func TestWrapExec(t *testing.T) {
	tests := []struct {
		spec warder.ExecSpec
		want []string
	}{
		{warder.ExecSpec{Cmd: []string{"ls", "-l"}}, []string{"/warder-agent", "with-env", "m1", "--", "ls", "-l"}},
		{warder.ExecSpec{Cmd: []string{"sh", "-c", "echo $B"}, Env: map[string]string{"B": "2", "A": "x=y", "C": "--"}},
			[]string{"/warder-agent", "with-env", "m1", "A=x=y", "B=2", "C=--", "--", "sh", "-c", "echo $B"}},
	}
	for _, tt := range tests {
		if got := wrapExec("m1", tt.spec); !slices.Equal(got, tt.want) {
			t.Errorf("wrapExec = %q, want %q", got, tt.want)
		}
	}
	if got := envPairs(nil); got == nil || len(got) != 0 {
		t.Errorf("envPairs(nil) = %#v", got)
	}
	for _, tt := range []struct {
		stderr, want string
	}{{"", "list: exit 3"}, {"  no such file\n", "list: no such file"}} {
		if got := execErr("list", 3, tt.stderr).Error(); got != tt.want {
			t.Errorf("execErr = %q, want %q", got, tt.want)
		}
	}
}

// TestCollectBoundsStderr: stdout goes through whole, stderr is kept up
// to 4 KiB.
func TestCollectBoundsStderr(t *testing.T) {
	var out strings.Builder
	c := collect{stdout: &out}
	big := strings.Repeat("e", 3<<10)
	for _, w := range []struct{ stream, data string }{
		{warder.StreamStdout, "one "}, {warder.StreamStderr, big}, {warder.StreamStdout, "two"}, {warder.StreamStderr, big},
	} {
		if err := c.out(w.stream, []byte(w.data)); err != nil {
			t.Fatal(err)
		}
	}
	if out.String() != "one two" || c.stderr.Len() != 4<<10 {
		t.Errorf("stdout %q, stderr %d bytes; want all of stdout and 4096 bytes", out.String(), c.stderr.Len())
	}
}
