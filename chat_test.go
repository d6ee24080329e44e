package warder_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/warder/warder"
)

func TestChatRequestValidate(t *testing.T) {
	r := warder.ChatRequest{Content: "hi"}
	if err := r.Validate(); err != nil || r.Role != "user" {
		t.Fatalf("Validate = %v, role %q", err, r.Role)
	}
	for _, bad := range []warder.ChatRequest{
		{Content: ""}, {Content: " \n\t"}, {Content: "hi", Role: "assistant"}, {Content: "hi", Role: "system"},
		{Content: strings.Repeat("x", warder.MaxChatContentBytes+1)}, {Content: "hi", ConversationID: "c1"},
	} {
		if err := bad.Validate(); !errors.Is(err, warder.ErrInvalid) {
			t.Errorf("Validate(%.40v) = %v, want invalid", bad, err)
		}
	}
}
