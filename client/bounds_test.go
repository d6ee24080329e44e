package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// hugeBody is how much a huge answer would be: four times what the
// client reads, so a client without the bound reads it all (and the
// test fails) without taking the machine's memory.
const hugeBody = 4 * client.MaxAnswerBytes

// hugeServer answers every request with status and a JSON array of
// agents of hugeBody bytes, written piece by piece (never held whole)
// until it is all sent or the client hangs up; written counts what it
// wrote.
func hugeServer(t *testing.T, status int, written *atomic.Int64) *httptest.Server {
	piece := []byte(`{"id":"0a1b2c3d-0000-4000-8000-000000000001","name":"` + strings.Repeat("a", 4000) + `"},`)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		n, _ := w.Write([]byte("["))
		written.Add(int64(n))
		for written.Load() < hugeBody {
			n, err := w.Write(piece)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
		w.Write([]byte(`{}]`))
	}))
	t.Cleanup(ts.Close)
	return ts
}

// TestHugeAnswerBounded: an answer far larger than any Warder sends is
// read up to client.MaxAnswerBytes and no further; the call fails with
// ErrAnswerTooLarge, saying so, and the memory it took is bounded by the
// cap, not by the answer (today's 2 GB answer took 5.2 GB). The same for
// a body discarded (Health), read as text (Metrics), a page of agents,
// and an error's detail (read up to 64 KiB).
func TestHugeAnswerBounded(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		call func(*client.Client) error
	}{
		{"Agents", func(cl *client.Client) error { _, err := cl.Agents(ctx); return err }},
		{"ListAgents", func(cl *client.Client) error { _, err := cl.ListAgents(ctx, client.AgentQuery{}); return err }},
		{"Health", func(cl *client.Client) error { return cl.Health(ctx) }},
		{"Metrics", func(cl *client.Client) error { _, err := cl.Metrics(ctx); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var written atomic.Int64
			ts := hugeServer(t, http.StatusOK, &written)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := c.call(client.New(ts.URL, "tok"))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, client.ErrAnswerTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("over %d MiB", client.MaxAnswerBytes>>20)) {
				t.Fatalf("a %d MiB answer: %v, want ErrAnswerTooLarge saying the bound", hugeBody>>20, err)
			}
			ts.Close() // waits for the handler, which stops once the client has hung up
			if w := written.Load(); w >= hugeBody {
				t.Errorf("the server wrote all %d bytes: the client read on past the bound", w)
			}
			// Everything allocated during the call, not only what is
			// live at its end: the buffer grows in steps up to the cap
			// (about 2.5 times it in all). Without the bound, reading
			// the whole answer allocates several times hugeBody.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*client.MaxAnswerBytes {
				t.Errorf("the call allocated %d MiB, over four times the %d MiB bound", alloc>>20, client.MaxAnswerBytes>>20)
			}
		})
	}

	t.Run("error", func(t *testing.T) {
		var written atomic.Int64
		ts := hugeServer(t, http.StatusInternalServerError, &written)
		_, err := client.New(ts.URL, "tok").Agents(ctx)
		var e *client.Error
		if !errors.As(err, &e) || e.Status != 500 || len(e.Detail) > 64<<10 {
			t.Fatalf("a huge error answer: %T %.200v", err, err)
		}
	})

	// An answer of exactly the bound is read whole.
	t.Run("at the bound", func(t *testing.T) {
		body := bytes.Repeat([]byte(" "), client.MaxAnswerBytes-2)
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("["))
			w.Write(body)
			w.Write([]byte("]"))
		}))
		defer ts.Close()
		if list, err := client.New(ts.URL, "tok").Agents(ctx); err != nil || len(list) != 0 {
			t.Fatalf("an answer of exactly %d bytes: %v %v", client.MaxAnswerBytes, list, err)
		}
	})
}

// TestHugeStreamEventBounded: a stream's event is bounded as a whole, not
// only line by line: one event of 16 data lines of 1 MiB each (a valid
// status change, spread over lines) fails the stream with
// ErrAnswerTooLarge once past 8 MiB, before the event is handed on.
func TestHugeStreamEventBounded(t *testing.T) {
	line := `data: "reason":"` + strings.Repeat("x", 1<<20) + "\",\n"
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\n")
		for range 16 {
			if _, err := fmt.Fprint(w, line); err != nil {
				return
			}
		}
		fmt.Fprint(w, "data: \"to\":\"running\"}\n\n")
	}))
	defer ts.Close()
	got := 0
	_, err := client.New(ts.URL, "tok").Events(context.Background(), func(wire.StatusChange) error { got++; return nil })
	if !errors.Is(err, client.ErrAnswerTooLarge) || got != 0 {
		t.Fatalf("a 16 MiB event: %v, %d handed on; want ErrAnswerTooLarge", err, got)
	}
}
