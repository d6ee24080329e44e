package cli

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// What the server sends (names, error details, a model's answer, an
// agent's output) reaches a terminal only through escape or escapeText:
// a terminal obeys control characters and escape sequences (ESC ] 0 ;
// sets its title, ESC [ 2 J clears it, a line break forges a table row),
// and bidi and zero-width characters make text read otherwise than it
// is. Such characters are shown as Go would write them in a string:
// \x1b, \u202e.

// unsafeRune reports whether r must not reach a terminal as it is: C0
// controls, DEL, C1 controls, Unicode format characters (Cf: bidi
// controls, zero-width characters, soft hyphen, tags) and the line and
// paragraph separators.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// escape is s for one field of a line (a table cell, a name in a
// message): every unsafe character escaped, tabs and line breaks too, and
// each byte that is not UTF-8 as \xNN.
func escape(s string) string { return escapeKeeping(s, false) }

// escapeText is escape for text whose lines and tabs are its own (an
// answer, an agent's output): '\n' and '\t' are kept, the rest as escape.
func escapeText(s string) string { return escapeKeeping(s, true) }

func escapeKeeping(s string, lines bool) string {
	i := 0
	for i < len(s) {
		if s[i] >= 0x20 && s[i] < 0x7f { // the common case: printable ASCII
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || unsafeRune(r) && !(lines && (r == '\n' || r == '\t')) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case lines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff && unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// outputFor is how an agent's own output (its logs, an exec's output)
// is written to stdout, or with stderr to stderr: as it is when that is
// a file or a pipe, or when raw (the user asked for it, colours and
// all), as docker logs and docker exec write it; escaped by escapeText
// when it is a terminal, since an agent's output (a model's text, a file
// it fetched) is not the user's to trust.
func (c *CLI) outputFor(stderr, raw bool) func(string) string {
	tty := c.Terminal()
	if stderr {
		tty = isTerminal(c.Stderr)
	}
	if raw || !tty {
		return func(s string) string { return s }
	}
	return escapeText
}

// escapeRows is rows with every cell escaped.
func escapeRows(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for j, cell := range r {
			out[i][j] = escape(cell)
		}
	}
	return out
}

// escapeJSON rewrites what encoding/json leaves raw and a terminal would
// obey or hide (DEL, C1 controls, format characters; it already escapes
// the rest below U+0020 and U+2028/U+2029) as \uXXXX escapes, which mean
// the same to any JSON reader. The input is encoding/json's output: valid
// UTF-8 whose raw characters below U+0020 are indentation, and where the
// others can only be inside strings.
func escapeJSON(b []byte) []byte {
	i := bytes.IndexFunc(b, jsonUnsafe)
	if i < 0 {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, b[:i]...)
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case !jsonUnsafe(r):
			out = append(out, b[i:i+n]...)
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += n
	}
	return out
}

// jsonUnsafe is unsafeRune past ASCII's controls, which encoding/json
// escapes in strings itself and writes raw only as indentation.
func jsonUnsafe(r rune) bool { return r >= 0x7f && unsafeRune(r) }
