package warder

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCleanPath(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"", "", ""},
		{"a/b.txt", "a/b.txt", ""},
		{"a//b/./c/", "a/b/c", ""},
		{".", "", ""},
		{"..", "", `".."`},
		{"a/../b", "", `".."`},
		{"a/..", "", `".."`},
		{"/etc/passwd", "", "absolute"},
		{"a\x00b", "", "NUL"},
		{`a\..\b`, "", "backslash"},
		{strings.Repeat("a", 4097), "", "4096"},
		{"...", "...", ""}, // a name, not a way up
	} {
		got, err := CleanPath(c.in)
		switch {
		case c.err != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.err)):
			t.Errorf("CleanPath(%q) = %q, %v; want an error with %q", c.in, got, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("CleanPath(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestExecRequestValidate(t *testing.T) {
	for _, c := range []struct {
		req     ExecRequest
		timeout time.Duration
		err     string
	}{
		{ExecRequest{Cmd: []string{"ls"}}, DefaultExecTimeout, ""},
		{ExecRequest{Cmd: []string{"ls"}, Timeout: "90s", Env: map[string]string{"A_1": "x"}}, 90 * time.Second, ""},
		{ExecRequest{}, 0, "cmd must name a program"},
		{ExecRequest{Cmd: []string{""}}, 0, "cmd must name a program"},
		{ExecRequest{Cmd: strings.Split(strings.Repeat("x,", 256)+"x", ",")}, 0, "at most 256"},
		{ExecRequest{Cmd: []string{"ls", "a\x00"}}, 0, "NUL"},
		{ExecRequest{Cmd: []string{"ls"}, Timeout: "2h"}, 0, "timeout"},
		{ExecRequest{Cmd: []string{"ls"}, Timeout: "-1s"}, 0, "timeout"},
		{ExecRequest{Cmd: []string{"ls"}, Timeout: "soon"}, 0, "timeout"},
		{ExecRequest{Cmd: []string{"ls"}, Env: map[string]string{"1X": "y"}}, 0, "not a valid variable name"},
	} {
		d, err := c.req.Validate()
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%+v: %v; want an error with %q", c.req, err, c.err)
		case c.err == "" && (err != nil || d != c.timeout):
			t.Errorf("%+v: %s, %v; want %s", c.req, d, err, c.timeout)
		}
	}
}
