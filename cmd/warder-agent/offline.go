package main

import (
	"context"
	"fmt"
	"strings"
)

// offlineName is the model name the offline model reports.
const offlineName = "offline"

// offlineModel is the built-in model used without LLM_BASE_URL: it is
// deterministic, needs nothing outside the container, and says plainly
// what it is, so nobody mistakes its answer for a real model's.
type offlineModel struct {
	agentName string
}

func (offlineModel) name() string { return offlineName }

func (offlineModel) status(context.Context) (string, string) { return offlineName, "" }

// complete answers the last message; a stream comes word by word.
func (m offlineModel) complete(_ context.Context, msgs []message, onDelta func(string) error) (reply, error) {
	content := m.reply(msgs)
	if onDelta != nil {
		for _, piece := range strings.SplitAfter(content, " ") {
			if err := onDelta(piece); err != nil {
				return reply{}, &clientError{err}
			}
		}
	}
	return reply{Content: content, Model: offlineName}, nil
}

func (m offlineModel) reply(msgs []message) string {
	name := m.agentName
	if name == "" {
		name = "this agent"
	}
	var said string
	earlier := 0
	for i, msg := range msgs {
		switch {
		case i == len(msgs)-1:
			said = msg.Content
		case msg.Role != "system":
			earlier++
		}
	}
	s := fmt.Sprintf("[offline built-in model] I am %s, running Warder's default agent without a language model (set %s to use one), so I can only echo you. You said: %q", name, envBaseURL, said)
	if earlier > 0 {
		s += fmt.Sprintf(" (%d earlier messages in this conversation)", earlier)
	}
	return s
}
