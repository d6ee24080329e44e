#!/usr/bin/env bash
# seaweedfs.sh [CACHE] builds SeaweedFS's `weed` (the real S3 server the
# snapshot store's tests run against: internal/testkit/testenv/s3.go) from the Go
# module proxy and prints the binary's path. `go install pkg@version` is
# refused (the module has replace directives), so the module is downloaded
# and built in its own directory. A stamp names the version: a second run
# with the same version does nothing. Cold: about 4 minutes on 2 cores.
set -euo pipefail
CACHE=${1:-${WARDER_SEAWEEDFS_CACHE:-/var/cache/warder-seaweedfs}}
VERSION=${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
mkdir -p "$CACHE/bin"
CACHE=$(cd "$CACHE" && pwd)
want="seaweedfs $VERSION"
if [[ -x $CACHE/bin/weed && -f $CACHE/bin/VERSION && $(<"$CACHE/bin/VERSION") == "$want" ]]; then
  echo "$CACHE/bin/weed"; exit 0
fi
start=$SECONDS
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
# The module cache is read-only; go build inside it must not try to write
# go.sum or go.mod (-mod=mod would): its go.sum is complete.
dir=$(go mod download -json "github.com/seaweedfs/seaweedfs@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -n $dir && -d $dir/weed ]] || { echo "seaweedfs.sh: no module directory for $VERSION" >&2; exit 1; }
(cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$CACHE/bin/weed.new" ./weed) >&2
mv "$CACHE/bin/weed.new" "$CACHE/bin/weed"
echo "$want" > "$CACHE/bin/VERSION"
echo "seaweedfs.sh: $want in $((SECONDS - start))s" >&2
echo "$CACHE/bin/weed"
