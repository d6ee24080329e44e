package warder_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/warder/warder"
)

// TestNamesRefuseInvisible: the names people choose and others see (an
// agent's name and type, an API key's name, a user's email, first and last
// name) refuse control characters, tabs and line breaks, bidi controls,
// zero-width and other format characters, and line separators; letters
// of any script, emoji and punctuation are kept.
func TestNamesRefuseInvisible(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"helper", true},
		{"مساعد", true},  // Arabic letters: right-to-left by themselves, no control needed
		{"עוזר-2", true}, // Hebrew
		{"助手 🤖", true},   // CJK and an emoji
		{"naïve café", true},
		{"a\u202eb", false},     // RIGHT-TO-LEFT OVERRIDE
		{"a\u202ab", false},     // LEFT-TO-RIGHT EMBEDDING
		{"a\u2066b", false},     // LEFT-TO-RIGHT ISOLATE
		{"a\u2069b", false},     // POP DIRECTIONAL ISOLATE
		{"a\u200eb", false},     // LEFT-TO-RIGHT MARK
		{"a\u200fb", false},     // RIGHT-TO-LEFT MARK
		{"a\u061cb", false},     // ARABIC LETTER MARK
		{"a\u200bb", false},     // ZERO WIDTH SPACE
		{"a\u200cb", false},     // ZERO WIDTH NON-JOINER
		{"a\u200db", false},     // ZERO WIDTH JOINER
		{"a\u2060b", false},     // WORD JOINER
		{"a\ufeffb", false},     // ZERO WIDTH NO-BREAK SPACE (BOM)
		{"a\u00adb", false},     // SOFT HYPHEN
		{"a\U000E0041b", false}, // TAG LATIN CAPITAL LETTER A
		{"a\u2028b", false},     // LINE SEPARATOR
		{"a\u2029b", false},     // PARAGRAPH SEPARATOR
		{"a\x1b]0;pwned\x07b", false},
		{"a\u009bb", false}, // C1 CSI
		{"a\x7fb", false},
		{"a\nb", false},
		{"a\tb", false},
		{"a\rb", false},
	}
	for _, tt := range tests {
		name, email := tt.name, "u"+tt.name+"@example.com"
		checks := map[string]func() error{
			"agent name": func() error {
				r := warder.AgentCreate{Name: name}
				return r.Validate("warder/agent:latest")
			},
			"agent rename": func() error {
				return (&warder.AgentUpdate{Name: &name}).Apply(&warder.Agent{Name: "a", Type: "chat"}, "warder/agent:latest")
			},
			// An agent's type is one of AgentTypes, not a label: see
			// TestAgentTypeKept.
			"key name": func() error {
				r := warder.APIKeyCreate{Name: name}
				return r.Validate()
			},
			"first name": func() error {
				r := warder.RegisterRequest{Username: "alice", Email: "alice@example.com", Password: "correct horse", FirstName: name}
				return r.Validate()
			},
			"last name": func() error {
				r := warder.RegisterRequest{Username: "alice", Email: "alice@example.com", Password: "correct horse", LastName: name}
				return r.Validate()
			},
			"email": func() error {
				r := warder.RegisterRequest{Username: "alice", Email: email, Password: "correct horse"}
				return r.Validate()
			},
		}
		for what, check := range checks {
			err := check()
			if what == "email" && tt.ok {
				continue // net/mail decides which letters an address may hold
			}
			switch {
			case tt.ok && err != nil:
				t.Errorf("%s %q: %v, want it accepted", what, tt.name, err)
			case !tt.ok && !errors.Is(err, warder.ErrInvalid):
				t.Errorf("%s %q: %v, want ErrInvalid", what, tt.name, err)
			case !tt.ok && what != "email" && !strings.Contains(err.Error(), "character"):
				// (an address with a control character may already
				// fail net/mail's parse, which says so its own way)
				t.Errorf("%s %q: %v, want a detail naming the character", what, tt.name, err)
			}
		}
	}
}
