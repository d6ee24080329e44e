package main

import (
	"fmt"
	"strings"
)

// The shell's language, a small part of POSIX sh: words, 'single' and
// "double" quotes, backslash escapes, $NAME, ${NAME}, $?, $0-$9, $#, a
// leading ~, # comments, and commands joined by ; && || or a newline.
// Expansions are done when a command runs (so `X=1; echo $X` works) and
// are never split into several words. Pipes, redirections, background
// jobs, globs and subshells are refused with a syntax error that says
// so, rather than taken for plain characters.

// shSegment is a piece of a word: literal text, or a variable to expand.
type shSegment struct {
	lit  string
	name string // set: expand $name
}

// shWord is one word before expansion. quoted: some of it was quoted, so
// it stays a word even when it expands to nothing.
type shWord struct {
	segs   []shSegment
	quoted bool
}

// shCommand is one simple command and the operator that joins it to the
// next: ";" (or a newline), "&&", "||", or "" for the last.
type shCommand struct {
	words []shWord
	op    string
}

// expand is w with its variables replaced by get's values; ok is false
// for an unquoted word that expanded to nothing (it is dropped).
func (w shWord) expand(get func(string) string) (string, bool) {
	var b strings.Builder
	for _, s := range w.segs {
		if s.name != "" {
			b.WriteString(get(s.name))
		} else {
			b.WriteString(s.lit)
		}
	}
	return b.String(), w.quoted || b.Len() > 0
}

// literal is w's text if it has no variable in it.
func (w shWord) literal() (string, bool) {
	var b strings.Builder
	for _, s := range w.segs {
		if s.name != "" {
			return "", false
		}
		b.WriteString(s.lit)
	}
	return b.String(), true
}

// shSyntaxError is a script the shell cannot read.
type shSyntaxError struct{ msg string }

func (e *shSyntaxError) Error() string { return "syntax error: " + e.msg }

// parseScript reads src into commands.
func parseScript(src string) ([]shCommand, error) {
	p := &shParser{src: src}
	return p.script()
}

type shParser struct {
	src string
	i   int
}

func (p *shParser) script() ([]shCommand, error) {
	var cmds []shCommand
	var cur shCommand
	// end closes the command being read with op; a newline with none
	// read is an empty line (or the rest of an unfinished && or ||).
	end := func(op string) error {
		if len(cur.words) == 0 {
			if op == "\n" {
				return nil
			}
			return &shSyntaxError{fmt.Sprintf("%q with no command before it", op)}
		}
		if op == "\n" {
			op = ";"
		}
		cur.op = op
		cmds = append(cmds, cur)
		cur = shCommand{}
		return nil
	}
	for {
		p.skipBlanks()
		if p.i >= len(p.src) {
			break
		}
		c := p.src[p.i]
		var err error
		switch {
		case c == '#':
			for p.i < len(p.src) && p.src[p.i] != '\n' {
				p.i++
			}
			continue
		case c == '\n' || c == ';':
			p.i++
			err = end(string(c))
		case strings.HasPrefix(p.src[p.i:], "&&"), strings.HasPrefix(p.src[p.i:], "||"):
			p.i += 2
			err = end(p.src[p.i-2 : p.i])
		case strings.IndexByte("|&<>()`", c) >= 0:
			return nil, &shSyntaxError{fmt.Sprintf("%q: pipes, redirections, background jobs and subshells are not in this small shell (run a program that has them, e.g. an image's /bin/sh)", string(c))}
		default:
			var w shWord
			w, err = p.word()
			cur.words = append(cur.words, w)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(cur.words) > 0 {
		cmds = append(cmds, cur)
	} else if n := len(cmds); n > 0 && cmds[n-1].op != ";" {
		return nil, &shSyntaxError{fmt.Sprintf("the script ends after %q", cmds[n-1].op)}
	}
	if len(cmds) > 0 {
		cmds[len(cmds)-1].op = ""
	}
	return cmds, nil
}

func (p *shParser) skipBlanks() {
	for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\t' || p.src[p.i] == '\r') {
		p.i++
	}
	// A backslash before a newline joins the lines.
	if strings.HasPrefix(p.src[p.i:], "\\\n") {
		p.i += 2
		p.skipBlanks()
	}
}

// word reads one word, up to an unquoted blank or operator.
func (p *shParser) word() (shWord, error) {
	var w shWord
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			w.segs = append(w.segs, shSegment{lit: lit.String()})
			lit.Reset()
		}
	}
	if strings.HasPrefix(p.src[p.i:], "~") && (p.i+1 == len(p.src) || strings.IndexByte("/ \t\n;", p.src[p.i+1]) >= 0) {
		w.segs = append(w.segs, shSegment{name: "HOME"})
		p.i++
	}
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch {
		case strings.IndexByte(" \t\r\n;|&<>()`", c) >= 0:
			flush()
			return w, nil
		case c == '\\':
			p.i++
			if p.i < len(p.src) {
				if p.src[p.i] != '\n' {
					lit.WriteByte(p.src[p.i])
				}
				p.i++
			}
		case c == '\'':
			end := strings.IndexByte(p.src[p.i+1:], '\'')
			if end < 0 {
				return w, &shSyntaxError{"a ' is not closed"}
			}
			lit.WriteString(p.src[p.i+1 : p.i+1+end])
			w.quoted = true
			p.i += end + 2
		case c == '"':
			flush()
			if err := p.doubleQuoted(&w); err != nil {
				return w, err
			}
		case c == '$':
			flush()
			seg, ok, err := p.variable()
			if err != nil {
				return w, err
			}
			if !ok {
				lit.WriteByte('$')
				continue
			}
			w.segs = append(w.segs, seg)
		default:
			lit.WriteByte(c)
			p.i++
		}
	}
	flush()
	return w, nil
}

// doubleQuoted reads "...": variables expand; a backslash escapes only
// $ " \ and a newline.
func (p *shParser) doubleQuoted(w *shWord) error {
	p.i++ // the opening quote
	w.quoted = true
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			w.segs = append(w.segs, shSegment{lit: lit.String()})
			lit.Reset()
		}
	}
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch {
		case c == '"':
			p.i++
			flush()
			return nil
		case c == '\\' && p.i+1 < len(p.src) && strings.IndexByte("$\"\\\n`", p.src[p.i+1]) >= 0:
			if p.src[p.i+1] != '\n' {
				lit.WriteByte(p.src[p.i+1])
			}
			p.i += 2
		case c == '$':
			flush()
			seg, ok, err := p.variable()
			if err != nil {
				return err
			}
			if !ok {
				lit.WriteByte('$')
				continue
			}
			w.segs = append(w.segs, seg)
		case c == '`':
			return &shSyntaxError{"command substitution (`...`) is not in this small shell"}
		default:
			lit.WriteByte(c)
			p.i++
		}
	}
	return &shSyntaxError{`a " is not closed`}
}

// variable reads $NAME, ${NAME}, $? or $0-$9 at p.i (a '$'); ok is false
// for a $ that starts none of them (it is a plain $, and p.i is past it).
func (p *shParser) variable() (shSegment, bool, error) {
	p.i++ // the $
	if p.i >= len(p.src) {
		return shSegment{}, false, nil
	}
	c := p.src[p.i]
	switch {
	case c == '?' || c == '#' || c == '$' || ('0' <= c && c <= '9'):
		p.i++
		return shSegment{name: string(c)}, true, nil
	case c == '{':
		end := strings.IndexByte(p.src[p.i:], '}')
		if end < 0 {
			return shSegment{}, false, &shSyntaxError{"a ${ is not closed"}
		}
		name := p.src[p.i+1 : p.i+end]
		if !validShName(name) && !(len(name) == 1 && strings.IndexByte("?#$0123456789", name[0]) >= 0) {
			return shSegment{}, false, &shSyntaxError{fmt.Sprintf("${%s}: only ${NAME} is in this small shell", name)}
		}
		p.i += end + 1
		return shSegment{name: name}, true, nil
	case c == '(':
		return shSegment{}, false, &shSyntaxError{"command substitution ($(...)) is not in this small shell"}
	}
	start := p.i
	for p.i < len(p.src) && isNameByte(p.src[p.i], p.i == start) {
		p.i++
	}
	if p.i == start {
		return shSegment{}, false, nil
	}
	return shSegment{name: p.src[start:p.i]}, true, nil
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

// validShName says s is a variable name.
func validShName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

// assignment splits NAME=VALUE (a word whose name part is literal).
func assignment(w shWord) (name string, value shWord, ok bool) {
	if len(w.segs) == 0 || w.segs[0].name != "" {
		return "", shWord{}, false
	}
	n, rest, found := strings.Cut(w.segs[0].lit, "=")
	if !found || !validShName(n) {
		return "", shWord{}, false
	}
	value = shWord{segs: append([]shSegment{{lit: rest}}, w.segs[1:]...), quoted: true}
	return n, value, true
}
