package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// imageLabel marks the images Warder builds.
const imageLabel = "warder.image"

// pullTimeout bounds the pull of a missing image, so an unreachable
// registry cannot hang a create.
const pullTimeout = 60 * time.Second

// agentDockerfile packs the static warder-agent into an image with nothing
// else in it: no shell, no libc, a non-root user. It has no HEALTHCHECK:
// every check is a process exec in the container, and a few hundred idle
// agents kept this 2-core engine busy with them (docs/benchmarks.md);
// Warder probes each agent's /health over the network instead. Images
// that bring a HEALTHCHECK of their own keep it, and Warder shows it.
//
// The image's label must not be LabelManaged: containers inherit image
// labels, so every container run from the image by hand would then look
// like one of Warder's to List and Events.
//
// Its /data is an empty directory of the agent's user, and it says so
// (LabelWorkspaceOwner), so a fresh workspace needs no helper to be the
// agent's (readyWorkspace). The classic builder's ADD unpacks data.tar
// keeping the owner its header gives.
const agentDockerfile = `FROM scratch
COPY warder-agent /warder-agent
ADD data.tar /
USER 65534:65534
EXPOSE 8000
LABEL ` + imageLabel + `="agent" ` + LabelWorkspaceOwner + `="65534:65534"
ENTRYPOINT ["/warder-agent"]
`

// BuildAgentImage builds the default agent image, tagged tag, from the
// static warder-agent binary at binaryPath. It uses the engine's build
// endpoint with the classic builder (what a 20.10 engine offers without
// BuildKit), so it needs no docker CLI and pulls nothing.
func (r *Runtime) BuildAgentImage(ctx context.Context, tag, binaryPath string) error {
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return fmt.Errorf("read agent binary: %w", err)
	}
	buildCtx, err := agentBuildContext(bin)
	if err != nil {
		return err
	}
	return r.buildImage(ctx, tag, buildCtx)
}

// buildImage runs a classic-builder build of the tar buildCtx and reads
// its progress stream to the end, where a failed build reports itself.
func (r *Runtime) buildImage(ctx context.Context, tag string, buildCtx []byte) error {
	res, err := r.cli.ImageBuild(ctx, bytes.NewReader(buildCtx), client.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return mapErr(err, "build image "+tag)
	}
	defer res.Body.Close()
	if out, err := readProgress(io.TeeReader(res.Body, &stepLog{log: r.log, image: tag})); err != nil {
		return fmt.Errorf("build image %s: %w\n%s", tag, err, out)
	}
	return nil
}

// stepLog logs each step of a build ("Step 2/7 : COPY ...") at info level
// as the engine's progress stream, one JSON message a line, reports it.
type stepLog struct {
	log   *slog.Logger
	image string
	line  []byte
}

func (s *stepLog) Write(p []byte) (int, error) {
	s.line = append(s.line, p...)
	for {
		i := bytes.IndexByte(s.line, '\n')
		if i < 0 {
			break
		}
		var m struct {
			Stream string `json:"stream"`
		}
		if json.Unmarshal(s.line[:i], &m) == nil && strings.HasPrefix(m.Stream, "Step ") {
			s.log.Info("building the agent image", "image", s.image, "step", strings.TrimSpace(m.Stream))
		}
		s.line = s.line[i+1:]
	}
	if len(s.line) > maxProgressKeptBytes { // no step is this long: not a line to log
		s.line = s.line[:0]
	}
	return len(p), nil
}

// agentBuildContext is the tar the build endpoint reads: the Dockerfile and
// the binary, executable.
func agentBuildContext(binary []byte) ([]byte, error) {
	data, err := dataDirTar()
	if err != nil {
		return nil, err
	}
	return tarFiles([]tarFile{
		{"Dockerfile", 0o644, []byte(agentDockerfile)},
		{"warder-agent", 0o755, binary},
		{"data.tar", 0o644, data},
	})
}

// dataDirTar is a tar of one empty directory, data/, owned by 65534:65534
// (the agent's user) with mode 0755: the image's /data.
func dataDirTar() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(warder.WorkspaceMountPath, "/") + "/", Typeflag: tar.TypeDir,
		Mode: 0o755, Uid: 65534, Gid: 65534, ModTime: time.Unix(0, 0)}); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type tarFile struct {
	name string
	mode int64
	body []byte
}

// tarFiles builds an in-memory tar of regular files.
func tarFiles(files []tarFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// RemoveImage removes the image ref and its untagged parents (the classic
// builder's intermediate layers). An image that is already gone is success;
// one still used by a container is ErrConflict.
func (r *Runtime) RemoveImage(ctx context.Context, ref string) error {
	_, err := r.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true})
	if isNotFound(err) {
		return nil
	}
	return mapErr(err, "remove image "+ref)
}

// pull fetches ref within pullTimeout. Failure means the caller asked for
// an image this host cannot get, which is ErrInvalid; the cause is kept
// for the log but not shown to the caller.
func (r *Runtime) pull(ctx context.Context, ref string) error {
	pctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	res, err := r.cli.ImagePull(pctx, ref, client.ImagePullOptions{})
	if err == nil {
		_, err = readProgress(res)
		res.Close()
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("pull image %s: %w", ref, ctx.Err())
	case isUnavailable(err):
		return mapErr(err, "pull image "+ref)
	}
	return fmt.Errorf("%w (%v)", warder.Errorf(warder.ErrInvalid,
		"image %q is not available on the Docker host and could not be pulled", ref), err)
}
