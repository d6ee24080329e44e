package main

import (
	"errors"
	"io"
	"unicode/utf8"
)

// errInterrupted is a line abandoned with Ctrl-C.
var errInterrupted = errors.New("interrupted")

// maxLine bounds a line typed at the prompt.
const maxLine = 64 << 10

// lineEditor reads a line from a terminal in raw mode, echoing it
// itself: printable characters, Backspace (and Ctrl-H) removes the last
// character, Ctrl-U the whole line, Ctrl-C abandons it
// (errInterrupted), Ctrl-D on an empty line is io.EOF, Enter ends it.
// Escape sequences (arrow keys) are read and ignored. It reads a byte at
// a time, so what is typed after Enter stays for the command it runs.
type lineEditor struct {
	in  io.Reader
	out io.Writer
	// afterCR: the last line ended with CR, so an LF right after it (a
	// CRLF) is that line's end too, not an empty line.
	afterCR bool
}

// readLine shows prompt and returns the line typed, without its newline.
func (e *lineEditor) readLine(prompt string) (string, error) {
	io.WriteString(e.out, prompt)
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := io.ReadFull(e.in, b); err != nil {
			if len(line) > 0 && err == io.EOF {
				return string(line), nil
			}
			return "", err
		}
		c := b[0]
		if c == '\n' && e.afterCR {
			e.afterCR = false
			continue
		}
		e.afterCR = c == '\r'
		switch c {
		case '\r', '\n':
			io.WriteString(e.out, "\r\n")
			return string(line), nil
		case 3: // Ctrl-C
			io.WriteString(e.out, "^C\r\n")
			return "", errInterrupted
		case 4: // Ctrl-D
			if len(line) == 0 {
				io.WriteString(e.out, "\r\n")
				return "", io.EOF
			}
		case 127, 8: // Backspace, Ctrl-H
			if len(line) > 0 {
				_, n := utf8.DecodeLastRune(line)
				line = line[:len(line)-n]
				io.WriteString(e.out, "\b \b")
			}
		case 21: // Ctrl-U
			for len(line) > 0 {
				_, n := utf8.DecodeLastRune(line)
				line = line[:len(line)-n]
				io.WriteString(e.out, "\b \b")
			}
		case 27: // an escape sequence: ESC [ params final, or ESC O x
			e.skipEscape()
		default:
			if c < 32 || len(line) >= maxLine {
				continue
			}
			line = append(line, c)
			e.out.Write(b)
		}
	}
}

// skipEscape reads the rest of an escape sequence after ESC.
func (e *lineEditor) skipEscape() {
	b := make([]byte, 1)
	if _, err := io.ReadFull(e.in, b); err != nil {
		return
	}
	if b[0] != '[' && b[0] != 'O' {
		return
	}
	for i := 0; i < 16; i++ {
		if _, err := io.ReadFull(e.in, b); err != nil {
			return
		}
		if b[0] >= 0x40 && b[0] <= 0x7e && !(b[0] == '[' && i == 0) {
			return
		}
	}
}
