package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestEscape: every character a terminal obeys or hides is shown escaped,
// tabs and line breaks too in a field (escape) but kept in text
// (escapeText); letters of any script, emoji and backslashes stay as
// they are; bytes that are not UTF-8 are \xNN.
func TestEscape(t *testing.T) {
	tests := []struct {
		in, field, text string
	}{
		{"", "", ""},
		{"helper-1", "helper-1", "helper-1"},
		{"naïve café 助手 🤖 مساعد", "naïve café 助手 🤖 مساعد", "naïve café 助手 🤖 مساعد"},
		{`C:\dir`, `C:\dir`, `C:\dir`},
		{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`, `\x1b]0;pwned\x07`},       // sets the terminal's title
		{"\x1b[H\x1b[2Jclean", `\x1b[H\x1b[2Jclean`, `\x1b[H\x1b[2Jclean`}, // clears the screen
		{"a\nforged\trow", `a\nforged\trow`, "a\nforged\trow"},             // a row of its own
		{"over\rwrite", `over\rwrite`, `over\rwrite`},
		{"\x00\x08\x7f", `\x00\x08\x7f`, `\x00\x08\x7f`},
		{"\u009b31m", `\u009b31m`, `\u009b31m`}, // C1 CSI
		{"\xff\xfeok\xc3", `\xff\xfeok\xc3`, `\xff\xfeok\xc3`},
		{"helper\u202egpj.exe", `helper\u202egpj.exe`, `helper\u202egpj.exe`},
		{"\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069", `\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069`, `\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069`},
		{"a\u200eb\u200fc\u061cd", `a\u200eb\u200fc\u061cd`, `a\u200eb\u200fc\u061cd`},
		{"hel\u200bp\u200c\u200d\u2060er\ufeff", `hel\u200bp\u200c\u200d\u2060er\ufeff`, `hel\u200bp\u200c\u200d\u2060er\ufeff`},
		{"soft\u00adhyphen", `soft\u00adhyphen`, `soft\u00adhyphen`},
		{"line\u2028para\u2029", `line\u2028para\u2029`, `line\u2028para\u2029`},
		{"tag\U000E0041", `tag\U000e0041`, `tag\U000e0041`},
	}
	for _, tt := range tests {
		if got := escape(tt.in); got != tt.field {
			t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.field)
		}
		if got := escapeText(tt.in); got != tt.text {
			t.Errorf("escapeText(%q) = %q, want %q", tt.in, got, tt.text)
		}
		if got := escape(tt.field); got != tt.field {
			t.Errorf("escape is not idempotent on %q: %q", tt.field, got)
		}
		for _, r := range escape(tt.in) {
			if unsafeRune(r) {
				t.Errorf("escape(%q) keeps %U", tt.in, r)
			}
		}
	}
}

// TestEscapeJSON: JSON output keeps its indentation and meaning (it
// decodes to the same value) with nothing a terminal obeys or hides left
// raw, not even what encoding/json leaves as it is (DEL, C1, bidi and
// format characters, past U+FFFF too).
func TestEscapeJSON(t *testing.T) {
	names := []string{"plain", "\x1b]0;pwned\x07", "a\x7fb\u009bc", "helper\u202egpj.exe", "hel\u200bper\ufeff", "tag\U000E0041", "助手 🤖"}
	raw, err := json.MarshalIndent(map[string]any{"names": names}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out := escapeJSON(raw)
	var back map[string][]string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("escaped JSON does not decode: %v\n%s", err, out)
	}
	if strings.Join(back["names"], "|") != strings.Join(names, "|") {
		t.Fatalf("escaped JSON decodes to %q, want %q", back["names"], names)
	}
	for _, r := range string(out) {
		if unsafeRune(r) && r != '\n' {
			t.Fatalf("escaped JSON keeps %U raw:\n%s", r, out)
		}
	}
	if !utf8.Valid(out) || !strings.Contains(string(out), `\u202e`) || !strings.Contains(string(out), "\n  ") {
		t.Fatalf("escaped JSON:\n%s", out)
	}
}
