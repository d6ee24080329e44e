package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/warder/warder"
)

func TestReadProgress(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		wantOut string
		wantErr string
	}{
		{"recorded build", readTestdata(t, "build_ok.jsonl"), "Successfully tagged warder-test/rec:ok", ""},
		{"recorded failed build", readTestdata(t, "build_failed.jsonl"), "Step 2/2", "COPY failed: file not found"},
		{"legacy error only", `{"stream":"a\n"}` + "\n" + `{"error":"boom"}`, "a\n", "boom"},
		{"pull error", `{"status":"Pulling"}{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}`, "", "manifest unknown"},
		{"stream broken off", `{"stream":"Step 1/2"}{"stream":"Ste`, "Step 1/2", "progress stream"},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := readProgress(strings.NewReader(tt.stream))
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("output = %q, want it to contain %q", out, tt.wantOut)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAgentBuildContext(t *testing.T) {
	b, err := agentBuildContext([]byte("\x7fELF binary"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got[hdr.Name] = fmt.Sprintf("%o %s", hdr.Mode, body)
	}
	if got["warder-agent"] != "755 \x7fELF binary" {
		t.Errorf("warder-agent entry = %q, want mode 755 and the binary", got["warder-agent"])
	}
	for _, line := range []string{"FROM scratch", "COPY warder-agent /warder-agent", "USER 65534:65534",
		"EXPOSE 8000", `LABEL warder.image="agent"`, `ENTRYPOINT ["/warder-agent"]`} {
		if !strings.Contains(got["Dockerfile"], line) {
			t.Errorf("Dockerfile lacks %q:\n%s", line, got["Dockerfile"])
		}
	}
	// Warder probes health over HTTP: no exec in every agent every few seconds.
	if strings.Contains(got["Dockerfile"], "HEALTHCHECK") {
		t.Errorf("Dockerfile has a HEALTHCHECK:\n%s", got["Dockerfile"])
	}
	// Containers inherit image labels: this one would make every container
	// run from the image by hand look like Warder's.
	if strings.Contains(got["Dockerfile"], warder.LabelManaged) {
		t.Errorf("Dockerfile labels the image %s:\n%s", warder.LabelManaged, got["Dockerfile"])
	}
}

func TestMapErr(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "unix", Err: errors.New("connect: no such file or directory")}
	tests := []struct {
		name string
		err  error
		kind error // nil: an internal error
	}{
		{"not found", cerrdefs.ErrNotFound.WithMessage("No such container: x"), warder.ErrNotFound},
		{"conflict", cerrdefs.ErrConflict.WithMessage("name in use"), warder.ErrConflict},
		{"engine says unavailable", cerrdefs.ErrUnavailable, warder.ErrUnavailable},
		{"dial error", fmt.Errorf("wrapped: %w", dial), warder.ErrUnavailable},
		{"deadline", fmt.Errorf("Get: %w", context.DeadlineExceeded), warder.ErrUnavailable},
		{"other", errors.New("boom"), nil},
		{"invalid argument", cerrdefs.ErrInvalidArgument.WithMessage("bad"), nil},
	}
	for _, tt := range tests {
		got := mapErr(tt.err, "do a thing")
		for _, kind := range []error{warder.ErrNotFound, warder.ErrConflict, warder.ErrUnavailable} {
			if errors.Is(got, kind) != (kind == tt.kind) {
				t.Errorf("%s: mapErr = %v; errors.Is(%v) = %v", tt.name, got, kind, !(kind == tt.kind))
			}
		}
		if tt.kind == nil && (!errors.Is(got, tt.err) || !strings.HasPrefix(got.Error(), "do a thing: ")) {
			t.Errorf("%s: mapErr = %v, want %v wrapped with the operation", tt.name, got, tt.err)
		}
	}
	if mapErr(nil, "x") != nil {
		t.Error("mapErr(nil) != nil")
	}
}
