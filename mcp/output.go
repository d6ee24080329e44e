package mcp

import (
	"strings"
	"unicode/utf8"
)

// head is s cut to at most n bytes at a character boundary, and whether
// anything was cut.
func head(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// tail is the end of s in at most n bytes, starting at a line when one
// starts within it, and whether anything was cut.
func tail(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		return s[i+1:], true
	}
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	return s, true
}

// keeper keeps the first max bytes written to it and counts the rest, so
// a command's output of any size costs at most max of memory.
type keeper struct {
	max   int
	kept  strings.Builder
	total int64
}

// add takes one piece of output.
func (k *keeper) add(s string) {
	k.total += int64(len(s))
	if room := k.max - k.kept.Len(); room > 0 {
		s, _ = head(s, room)
		k.kept.WriteString(s)
	}
}

// cut reports whether anything was left out.
func (k *keeper) cut() bool { return k.total > int64(k.kept.Len()) }
