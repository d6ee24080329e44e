#!/usr/bin/env bash
# build.sh [CACHE] builds the test cluster's binaries from the Go module proxy
# (no release can be downloaded here): kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kubectl, etcd, the pod sandbox's pause binary, and
# netpol (NetworkPolicy enforcement, netpol/main.go). They land in CACHE/bin;
# stamps name the versions, so a second run with the same versions does
# nothing. Cold: about 20 minutes on 2 cores; warm: instant.
set -euo pipefail
CACHE=${1:-${WARDER_K8S_CACHE:-/var/cache/warder-k8s}}
K8S=${K8S_VERSION:-v1.37.2}
ETCD=${ETCD_VERSION:-v3.6.16}
NETPOL=${NETPOL_VERSION:-v0.8.0}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$CACHE/bin" "$CACHE/build/k8s" "$CACHE/build/etcd"
CACHE=$(cd "$CACHE" && pwd)
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# NetworkPolicy enforcement (netpol/main.go, up.sh runs it): a module of its
# own, so kube-network-policies builds with the dependencies it was released
# with, and a stamp of its own (the version and main.go's hash). About 4
# minutes cold.
netpol_want="kube-network-policies $NETPOL main.go $(sha256sum "$here/netpol/main.go" | cut -c1-16)"
if [[ -x $CACHE/bin/netpol && -f $CACHE/bin/NETPOL && $(<"$CACHE/bin/NETPOL") == "$netpol_want" ]]; then
  echo "build.sh: $CACHE/bin holds $netpol_want"
else
  start=$SECONDS
  mkdir -p "$CACHE/build/netpol" && cd "$CACHE/build/netpol"
  sed '/^\/\/go:build ignore$/,+1d' "$here/netpol/main.go" > main.go
  printf 'module warder.test/netpolbuild\n\ngo 1.24\n' > go.mod
  go get "sigs.k8s.io/kube-network-policies@$NETPOL"
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$CACHE/bin/netpol" .
  echo "$netpol_want" > "$CACHE/bin/NETPOL"
  echo "build.sh: $netpol_want in $((SECONDS - start))s"
fi

want="kubernetes $K8S etcd $ETCD"
if [[ -f $CACHE/bin/VERSIONS && $(<"$CACHE/bin/VERSIONS") == "$want" ]]; then
  echo "build.sh: $CACHE/bin holds $want"; exit 0
fi
start=$SECONDS

# Kubernetes publishes its staging repositories (k8s.io/api, client-go, ...)
# as their own modules at v0.<minor>.<patch>; k8s.io/kubernetes's go.mod points
# them at ./staging, so a module that requires it must replace each one with
# its published version.
cd "$CACHE/build/k8s"
go mod download "k8s.io/kubernetes@$K8S"
modfile=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S.mod
goline=$(awk '$1 == "go" {print $2; exit}' "$modfile")
{
  printf 'module warder.test/k8sbuild\n\ngo %s\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$goline" "$K8S"
  awk -v v="v0.${K8S#v1.}" '$2 == "=>" && $3 ~ /^\.\/staging\// {printf "\t%s => %s %s\n", $1, $1, v}' "$modfile"
  printf ')\n'
} > go.mod
cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
{
  printf '//go:build tools\n\npackage tools\n\nimport (\n'
  for c in "${cmds[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
  printf ')\n'
} > tools.go
go mod tidy
minor=$(cut -d. -f2 <<<"$K8S")
ldflags="-s -w"
for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags+=" -X $p.gitVersion=$K8S -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
# One build for every command: their shared packages compile once.
go build -trimpath -ldflags "$ldflags" -o "$CACHE/bin/" "${cmds[@]/#/k8s.io/kubernetes/cmd/}"
echo "build.sh: kubernetes $K8S in $((SECONDS - start))s"

# etcd's server module has the same entry point as its released binary.
cd "$CACHE/build/etcd"
printf 'module warder.test/etcdbuild\n\ngo 1.24\n' > go.mod
printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' > main.go
go get "go.etcd.io/etcd/server/v3@$ETCD"
go mod tidy
go build -trimpath -ldflags "-s -w" -o "$CACHE/bin/etcd" .

# The pod sandbox's first process: no registry to pull a pause image from.
gcc -O2 -static -o "$CACHE/bin/pause" "$here/pause.c"
echo "$want" > "$CACHE/bin/VERSIONS"
echo "build.sh: done in $((SECONDS - start))s"
