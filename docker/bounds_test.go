package docker

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/warder/warder"
)

// framed is the engine's multiplexed form of text on stream 1 or 2, in
// frames of at most 16 KiB, as the engine's log drivers split lines.
func framed(stream byte, text string) []byte {
	var b bytes.Buffer
	for len(text) > 0 {
		n := min(len(text), 16<<10)
		b.Write(frame(stream, text[:n]))
		text = text[n:]
	}
	return b.Bytes()
}

// TestLineCut: a line over MaxLogLineBytes is cut at the bound (never in
// the middle of a character), marked, and sent once; the lines around it
// are untouched.
func TestLineCut(t *testing.T) {
	max := warder.MaxLogLineBytes
	tests := []struct {
		name string
		line string
		want string
	}{
		{"at the bound", strings.Repeat("a", max), strings.Repeat("a", max)},
		{"one over", strings.Repeat("b", max+1), strings.Repeat("b", max) + warder.LogLineCut},
		{"10 MiB", strings.Repeat("c", 10<<20), strings.Repeat("c", max) + warder.LogLineCut},
		{"a character across the bound", "x" + strings.Repeat("é", max), "x" + strings.Repeat("é", max/2-1) + warder.LogLineCut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var src bytes.Buffer
			src.Write(framed(1, "before\n"))
			src.Write(framed(1, tt.line+"\r\n"))
			src.Write(framed(2, "err\n"))
			src.Write(framed(1, "after"))
			var got []warder.LogLine
			if err := demuxLines(&src, false, func(l warder.LogLine) error { got = append(got, l); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(got) != 4 || got[0].Text != "before" || got[2].Text != "err" || got[3].Text != "after" {
				t.Fatalf("got %d lines, want before, the line, err, after", len(got))
			}
			if got[1].Text != tt.want || !utf8.ValidString(got[1].Text) {
				t.Fatalf("line of %d bytes came out as %d bytes ending %q, want %d", len(tt.line), len(got[1].Text), tail(got[1].Text), len(tt.want))
			}
		})
	}
}

func tail(s string) string { return s[max(0, len(s)-40):] }

// TestLineCutEndless: a line that never ends is sent, cut, as soon as it
// passes the bound, and the writer holds no more than the bound while the
// rest streams past.
func TestLineCutEndless(t *testing.T) {
	var got []warder.LogLine
	w := &lineWriter{stream: warder.StreamStdout, fn: func(l warder.LogLine) error { got = append(got, l); return nil }}
	chunk := bytes.Repeat([]byte("z"), 16<<10)
	for i := 0; i < 1024; i++ { // 16 MiB
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if i == warder.MaxLogLineBytes/len(chunk) && len(got) != 1 {
			t.Fatalf("after %d bytes, %d lines were sent; want the cut line", (i+1)*len(chunk), len(got))
		}
		if cap(w.buf) > 2*warder.MaxLogLineBytes {
			t.Fatalf("the writer holds %d bytes", cap(w.buf))
		}
	}
	w.Write([]byte("\nnext\n"))
	if len(got) != 2 || !strings.HasSuffix(got[0].Text, warder.LogLineCut) || got[1].Text != "next" {
		t.Fatalf("got %d lines", len(got))
	}
}

// counting counts what was read of r.
type counting struct {
	r    io.Reader
	read int
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

// TestProgressBounds: a progress message without end is an error that
// says so; long builds keep only the end of their output.
func TestProgressBounds(t *testing.T) {
	huge := io.MultiReader(strings.NewReader(`{"stream":"`), strings.NewReader(strings.Repeat("s", 4*maxProgressBytes)))
	if _, err := readProgress(huge); err == nil || !strings.Contains(err.Error(), "is over 1024 KiB") {
		t.Fatalf("readProgress of an endless message = %v", err)
	}
	var src strings.Builder
	for i := range 10 { // each message well within its bound, all together over it
		fmt.Fprintf(&src, `{"stream":"%d%s"}`+"\n", i, strings.Repeat("o", maxProgressBytes/2))
	}
	src.WriteString(`{"stream":"Successfully built"}`)
	out, err := readProgress(strings.NewReader(src.String()))
	if err != nil || len(out) != maxProgressKeptBytes || !strings.HasSuffix(out, "Successfully built") {
		t.Fatalf("readProgress = %d bytes ending %q, %v", len(out), tail(out), err)
	}
}
