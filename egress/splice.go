package egress

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// splice copies both ways between the client and the upstream until the
// upstream's side ends, an error cuts either, or nothing has moved either
// way for idle. The client's end half-closes the upstream, so
// request-then-response protocols finish; the upstream's end closes
// both (there is nothing left to answer the client).
func splice(client net.Conn, fromClient io.Reader, up net.Conn, idle time.Duration) {
	cut := sync.OnceFunc(func() { client.Close(); up.Close() })
	w := newWatchdog(idle, cut)
	defer w.stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pump(up, fromClient, w, cut)
	}()
	pump(client, up, w, cut)
	cut()
	<-done
}

// pump copies src to dst, touching w at every read and write; at src's
// end it half-closes dst, and at an error it cuts both.
func pump(dst net.Conn, src io.Reader, w *watchdog, cut func()) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		w.touch()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				cut()
				return
			}
			w.touch()
		}
		if err == io.EOF {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
				return
			}
			cut()
			return
		}
		if err != nil {
			cut()
			return
		}
	}
}

// watchdog calls onIdle once nothing has touched it for idle. It costs
// one timer per connection, checked at most once per idle period, not a
// deadline reset per read.
type watchdog struct {
	idle   time.Duration
	last   atomic.Int64 // unix nanoseconds of the last touch
	onIdle func()
	mu     sync.Mutex
	t      *time.Timer
	done   bool
}

func newWatchdog(idle time.Duration, onIdle func()) *watchdog {
	w := &watchdog{idle: idle, onIdle: onIdle}
	w.touch()
	w.t = time.AfterFunc(idle, w.check)
	return w
}

func (w *watchdog) touch() { w.last.Store(time.Now().UnixNano()) }

func (w *watchdog) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	if quiet := time.Since(time.Unix(0, w.last.Load())); quiet < w.idle {
		w.t.Reset(w.idle - quiet)
		return
	}
	w.done = true
	go w.onIdle()
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	w.t.Stop()
}
