package docker

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/warder/warder"
)

func TestStateFrom(t *testing.T) {
	tests := []struct {
		name string
		json string
		want warder.WorkloadState
	}{
		{"OOM-killed after restarts", `{"Id":"abc","Name":"/warder-agent-a1","RestartCount":2,
			"Config":{"Labels":{"warder.agent.id":"a1","warder.managed":"true"}},
			"State":{"Status":"exited","Running":false,"Restarting":false,"OOMKilled":true,"ExitCode":137,"Error":"",
				"StartedAt":"2026-11-27T04:45:46.799135817Z","FinishedAt":"2026-11-27T04:45:47.5Z",
				"Health":{"Status":"unhealthy","FailingStreak":3}}}`,
			warder.WorkloadState{ID: "abc", Name: "warder-agent-a1", AgentID: "a1", Phase: warder.PhaseExited,
				ExitCode: 137, OOMKilled: true, RestartCount: 2, Health: "unhealthy",
				StartedAt:  time.Date(2026, 11, 27, 4, 45, 46, 799135817, time.UTC),
				FinishedAt: time.Date(2026, 11, 27, 4, 45, 47, 500000000, time.UTC)}},
		{"never started", `{"Id":"def","Name":"/x","Config":{"Labels":{}},
			"State":{"Status":"created","Error":"network warder_network not found",
				"StartedAt":"0001-01-01T00:00:00Z","FinishedAt":"0001-01-01T00:00:00Z"}}`,
			warder.WorkloadState{ID: "def", Name: "x", Phase: warder.PhaseCreated, Error: "network warder_network not found"}},
		{"restarting", `{"Id":"g","Name":"/g","State":{"Status":"restarting","Restarting":true,"ExitCode":3,
			"StartedAt":"2026-01-02T03:04:05+01:00","FinishedAt":"garbage"}}`,
			warder.WorkloadState{ID: "g", Name: "g", Phase: warder.PhaseRestarting, ExitCode: 3,
				StartedAt: time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC)}},
		{"no state", `{"Id":"h","Name":"/h"}`, warder.WorkloadState{ID: "h", Name: "h"}},
		{"running, published", `{"Id":"p","Name":"/p","Config":{"ExposedPorts":{"8000/tcp":{}}},
			"HostConfig":{"PortBindings":{"8000/tcp":[{"HostIp":"0.0.0.0","HostPort":"9001"}]}},
			"NetworkSettings":{"Networks":{"n":{"IPAddress":"172.18.0.5"}}},
			"State":{"Status":"running","Running":true}}`,
			warder.WorkloadState{ID: "p", Name: "p", Phase: warder.PhaseRunning, HostPort: 9001, Endpoint: "127.0.0.2:9001"}},
		{"running, published, on a bridge of this host: probed at its address", `{"Id":"q","Name":"/q","Config":{"ExposedPorts":{"8000/tcp":{}}},
			"HostConfig":{"PortBindings":{"8000/tcp":[{"HostIp":"0.0.0.0","HostPort":"9003"}]}},
			"NetworkSettings":{"Networks":{"here":{"IPAddress":"172.18.0.6"}}},
			"State":{"Status":"running","Running":true}}`,
			warder.WorkloadState{ID: "q", Name: "q", Phase: warder.PhaseRunning, HostPort: 9003, Endpoint: "127.0.0.2:9003",
				ProbeEndpoint: "172.18.0.6:8000"}},
		{"running, internal", `{"Id":"i","Name":"/i","Config":{"ExposedPorts":{"8080/tcp":{}}},
			"NetworkSettings":{"Networks":{"n_internal":{"IPAddress":"172.19.0.7"}}},
			"State":{"Status":"running","Running":true}}`,
			warder.WorkloadState{ID: "i", Name: "i", Phase: warder.PhaseRunning, Endpoint: "172.19.0.7:8080"}},
		{"stopped keeps its port, has no endpoint", `{"Id":"s","Name":"/s","Config":{"ExposedPorts":{"8000/tcp":{}}},
			"HostConfig":{"PortBindings":{"8000/tcp":[{"HostIp":"127.0.0.1","HostPort":"9002"}]}},
			"State":{"Status":"exited","ExitCode":0}}`,
			warder.WorkloadState{ID: "s", Name: "s", Phase: warder.PhaseExited, HostPort: 9002}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c container.InspectResponse
			if err := json.Unmarshal([]byte(tt.json), &c); err != nil {
				t.Fatal(err)
			}
			got := stateOf(c, "127.0.0.2", func(network string) bool { return network == "here" })
			if !got.StartedAt.Equal(tt.want.StartedAt) || !got.FinishedAt.Equal(tt.want.FinishedAt) {
				t.Errorf("times = %v, %v; want %v, %v", got.StartedAt, got.FinishedAt, tt.want.StartedAt, tt.want.FinishedAt)
			}
			if got.StartedAt.IsZero() != tt.want.StartedAt.IsZero() || got.FinishedAt.IsZero() != tt.want.FinishedAt.IsZero() {
				t.Errorf("IsZero differs: %v, %v", got.StartedAt, got.FinishedAt)
			}
			got.StartedAt, got.FinishedAt = tt.want.StartedAt, tt.want.FinishedAt
			if got != tt.want {
				t.Errorf("stateOf =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestLocalEngine(t *testing.T) {
	for host, want := range map[string]bool{
		"unix:///var/run/docker.sock": true, "tcp://127.0.0.1:2375": true, "tcp://localhost:2375": true,
		"tcp://[::1]:2375": true, "tcp://10.0.0.5:2376": false, "ssh://me@box": false, "npipe:////./pipe/docker_engine": false,
	} {
		if got := localEngine(host); got != want {
			t.Errorf("localEngine(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestEventFrom(t *testing.T) {
	at := time.Date(2026, 11, 27, 4, 45, 46, 799135817, time.UTC)
	actor := events.Actor{ID: "abc", Attributes: map[string]string{"warder.agent.id": "a1", "image": "x"}}
	tests := []struct {
		msg  events.Message
		want warder.WorkloadEvent
	}{
		{events.Message{Type: "container", Action: "die", Actor: actor, Time: at.Unix(), TimeNano: at.UnixNano()},
			warder.WorkloadEvent{ContainerID: "abc", AgentID: "a1", Kind: warder.EventExited, Time: at}},
		{events.Message{Action: "health_status: healthy", Actor: actor, TimeNano: at.UnixNano()},
			warder.WorkloadEvent{ContainerID: "abc", AgentID: "a1", Kind: warder.EventHealth, Time: at}},
		// Podman's words for an end and a removal.
		{events.Message{Action: "died", Actor: actor, TimeNano: at.UnixNano()},
			warder.WorkloadEvent{ContainerID: "abc", AgentID: "a1", Kind: warder.EventExited, Time: at}},
		{events.Message{Action: "remove", Actor: actor, TimeNano: at.UnixNano()},
			warder.WorkloadEvent{ContainerID: "abc", AgentID: "a1", Kind: warder.EventRemoved, Time: at}},
		{events.Message{Action: "oom", Actor: events.Actor{ID: "def"}, Time: at.Unix()},
			warder.WorkloadEvent{ContainerID: "def", Kind: warder.EventOOMKilled, Time: at.Truncate(time.Second)}},
	}
	for _, tt := range tests {
		got := eventFrom(tt.msg)
		if !got.Time.Equal(tt.want.Time) {
			t.Errorf("%s: Time = %v, want %v", tt.msg.Action, got.Time, tt.want.Time)
		}
		got.Time = tt.want.Time
		if got != tt.want {
			t.Errorf("eventFrom(%s) = %+v, want %+v", tt.msg.Action, got, tt.want)
		}
	}
}
