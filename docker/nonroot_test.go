package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"testing"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// rootImage builds, from the test agent image, one whose USER is root,
// as a custom agent image without a USER line would be.
func rootImage(t *testing.T, r *Runtime) string { return derivedImage(t, r, "USER root") }

// derivedImage builds, from the test agent image, one with the Dockerfile
// line added; it is removed by its exact tag at cleanup.
func derivedImage(t *testing.T, r *Runtime, line string) string {
	t.Helper()
	tag := testenv.UniqueName("warder-test/derived:t")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	df := []byte("FROM " + r.cfg.DefaultImage + "\n" + line + "\n")
	tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))})
	tw.Write(df)
	tw.Close()
	if err := r.buildImage(context.Background(), tag, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeTestImage(tag); err != nil {
			t.Errorf("cleanup: remove image %s: %v", tag, err)
		}
	})
	return tag
}

// TestRootImagesRunAsNobody: an image that would run as root runs as
// nobody unless the spec allows root; an image with its own non-root
// user keeps it.
func TestRootImagesRunAsNobody(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx := context.Background()
	if err := r.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	root := rootImage(t, r)
	for _, c := range []struct {
		image     string
		allowRoot bool
		want      string
	}{
		{root, false, warder.NonRootUser},
		{root, true, "root"},
		{r.cfg.DefaultImage, false, "65534:65534"}, // its own USER stands
	} {
		spec := testSpec(t, r)
		spec.Image, spec.AllowRoot = c.image, c.allowRoot
		id, err := r.Create(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Container.Config.User; got != c.want {
			t.Errorf("image %s, allow root %v: container user %q, want %q", c.image, c.allowRoot, got, c.want)
		}
	}
}
