package docker

import (
	"bytes"
	"context"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/warder/warder"
)

// Logs returns the container's stdout and stderr, interleaved in the order
// they were written: both streams are demultiplexed into one buffer (agent
// containers have no TTY, so the engine sends them multiplexed). Lines 0
// means all lines.
func (r *Runtime) Logs(ctx context.Context, id string, opts warder.LogOptions) (string, error) {
	opts.Follow = false
	rc, err := r.cli.ContainerLogs(ctx, id, logsOptions(opts))
	if err != nil {
		return "", mapErr(err, "logs of container "+id)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil {
		return "", mapErr(err, "read logs of container "+id)
	}
	return buf.String(), nil
}
