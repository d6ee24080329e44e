package snapshot

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv carries the store a child test process saves into.
const childEnv = "WARDER_SNAPSHOT_TEST_CHILD"

// streamedMark is what the child prints once its Save is well under way:
// past two S3 parts, so a multipart upload exists with a part in it.
const (
	streamedMark  = "snapshot streaming"
	streamedBytes = 40 << 20
)

// testKilledSave: a process killed with SIGKILL in the middle of a Save
// leaves nothing that List shows or that looks like an object; what it
// left is unfinished writes, which RemoveIncomplete takes away.
func testKilledSave(t *testing.T, st Store) {
	ctx := context.Background()
	desc, err := json.Marshal(describe(st))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSaveChild$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+string(desc))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	marked := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), streamedMark) {
				marked <- true
				break
			}
		}
		for sc.Scan() { // drain, so the child never blocks on its output
		}
		marked <- false
	}()
	select {
	case ok := <-marked:
		if !ok {
			t.Fatal("the child ended before its save was under way")
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the child's save did not get under way in 2 minutes")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	a := mustArchive(t, st, Config{})
	if list, err := a.List(ctx, ""); err != nil || len(list) != 0 {
		t.Fatalf("after the kill, List: %v, %v", list, err)
	}
	if got := keys(t, st, ""); len(got) != 0 {
		t.Fatalf("after the kill, objects: %v", got)
	}
	if n, err := st.RemoveIncomplete(ctx, time.Now().Add(time.Minute)); err != nil || n < 1 {
		t.Fatalf("RemoveIncomplete after the kill: %d, %v; want the killed write removed", n, err)
	}
	if n, err := st.RemoveIncomplete(ctx, time.Now().Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("RemoveIncomplete again: %d, %v", n, err)
	}
	if ds, ok := st.(*DirStore); ok {
		if left := filesUnder(t, ds.Dir()); len(left) != 0 {
			t.Fatalf("files left: %v", left)
		}
	}
}

// TestSaveChild is testKilledSave's child process: it saves an endless
// stream into the store described by childEnv until it is killed.
func TestSaveChild(t *testing.T) {
	desc := os.Getenv(childEnv)
	if desc == "" {
		t.Skip("only run by testKilledSave, as its child process")
	}
	st := openDescribed(t, desc)
	a := mustArchive(t, st, Config{})
	read := int64(0)
	src := randomReader(9, 1<<40)
	r := readerFunc(func(p []byte) (int, error) {
		n, err := src.Read(p)
		if read < streamedBytes && read+int64(n) >= streamedBytes {
			os.Stdout.WriteString("\n" + streamedMark + "\n")
		}
		read += int64(n)
		if read > streamedBytes {
			time.Sleep(time.Millisecond) // slow now: the kill is coming
		}
		return n, err
	})
	_, err := a.Save(context.Background(), meta("agent-1", "killed"), r)
	t.Fatalf("Save returned (%v): it should have been killed first", err)
}

// storeDesc says how to open a store again, in another process.
type storeDesc struct {
	Dir string    `json:",omitempty"`
	S3  *S3Config `json:",omitempty"`
}

func describe(st Store) storeDesc {
	switch s := st.(type) {
	case *DirStore:
		return storeDesc{Dir: s.Dir()}
	case *S3Store:
		cfg := s.cfg
		return storeDesc{S3: &cfg}
	}
	panic("unknown store")
}

func openDescribed(t *testing.T, desc string) Store {
	var d storeDesc
	if err := json.Unmarshal([]byte(desc), &d); err != nil {
		t.Fatal(err)
	}
	var st Store
	var err error
	if d.S3 != nil {
		st, err = NewS3Store(*d.S3)
	} else {
		st, err = NewDirStore(d.Dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
