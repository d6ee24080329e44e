#!/usr/bin/env bash
# up.sh WORK [CACHE] starts a real one-node Kubernetes for Warder's tests, as
# root: etcd, the API server, controller manager and scheduler on loopback;
# a containerd of its own (socket, root and state under WORK: Docker's is
# never touched) and a kubelet with a CNI bridge. Binaries come from
# build.sh. NetworkPolicies are enforced (netpol/main.go). The admin
# kubeconfig is WORK/kubeconfig.
#
# Nothing a pod sends may leave this machine: the WARDER-K8S-GUARD chain
# rejects pod traffic to anything but other pods and this host, and traffic
# to ClusterIPs (no kube-proxy runs, so nothing would translate them).
# down.sh WORK undoes all of it, also after a failed up.sh.
set -euo pipefail
WORK=${1:?usage: up.sh WORK [CACHE]}
CACHE=${2:-${WARDER_K8S_CACHE:-/var/cache/warder-k8s}}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd); BIN=$(cd "$CACHE/bin" && pwd)
: "${ETCD_PORT:=32379}" "${ETCD_PEER_PORT:=32380}" "${API_PORT:=36443}" "${KUBELET_PORT:=30250}"
: "${KUBELET_HEALTHZ_PORT:=30248}" "${CM_PORT:=30257}" "${SCHED_PORT:=30259}"
: "${NODE_NAME:=warder-node}" "${POD_CIDR:=10.244.0.0/24}" "${SERVICE_CIDR:=10.96.0.0/16}"
: "${BRIDGE:=wk8s0}" "${PAUSE_IMAGE:=docker.io/warder-test/pause:1}" "${NETPOL_TABLE:=warder-k8s-netpol}" "${NETPOL_QUEUE:=100}"
PKI=$WORK/pki LOGS=$WORK/logs RUN=$WORK/run
say() { echo "up.sh [$SECONDS s] $*"; }
die() { echo "up.sh: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root"
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl pause netpol; do
  [[ -x $BIN/$b ]] || die "$BIN/$b is missing: run build.sh"
done
missing=()
# mkfs.ext4, losetup, mountpoint: provisioner.sh's volumes.
for c in containerd ctr runc iptables nft openssl curl mkfs.ext4 losetup mountpoint; do command -v $c >/dev/null || missing+=("$c"); done
[[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
if ((${#missing[@]})); then
  apt-get install -y -qq containerd runc containernetworking-plugins iptables nftables openssl curl e2fsprogs mount util-linux >/dev/null
fi
[[ -e $RUN/kubelet.pid ]] && die "$WORK is in use: run down.sh $WORK first"
mkdir -p "$PKI" "$LOGS" "$RUN" "$WORK"/{containerd,cni/net.d,cni/ipam,etcd,kubelet,pod-logs}
echo "$BIN" > "$RUN/bin"

NODE_IP=${NODE_IP:-$(ip -4 -o route get 1.1.1.1 2>/dev/null | awk '{for(i=1;i<NF;i++) if($i=="src") {print $(i+1); exit}}')}
[[ -n $NODE_IP ]] || die "no node address found: set NODE_IP"
SVC_IP=$(awk -F'[./]' '{print $1"."$2"."$3"."$4+1}' <<<"$SERVICE_CIDR")

# What the run changes on the host, recorded so down.sh restores exactly it.
iptables-save 2>/dev/null | awk '/^:/{print substr($1, 2)}' | sort -u > "$RUN/chains.before"
ip6tables-save 2>/dev/null | awk '/^:/{print substr($1, 2)}' | sort -u > "$RUN/chains6.before"
nft list tables 2>/dev/null > "$RUN/nft.before" || true
for k in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes; do
  echo "$k=$(sysctl -n "$k")"
done > "$RUN/sysctl.before"
for d in /var/lib/kubelet /var/lib/cni /var/log/containers /var/log/pods /run/netns; do
  [[ -e $d ]] && echo "$d"
done > "$RUN/paths.before" || true

# --- certificates: one CA; every component uses a client certificate ----------------
issue() { # name CN O kind(server|client) SAN
  local ext=$PKI/$1.ext
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n' \
    "$([[ $4 == server ]] && echo serverAuth || echo clientAuth)" > "$ext"
  [[ -n ${5:-} ]] && echo "subjectAltName=$5" >> "$ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$PKI/$1.key" \
    -out "$PKI/$1.csr" -subj "/CN=$2${3:+/O=$3}" 2>/dev/null
  openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 30 \
    -extfile "$ext" -out "$PKI/$1.crt" 2>/dev/null
}
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -keyout "$PKI/ca.key" \
  -out "$PKI/ca.crt" -subj "/CN=warder-test-ca" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
issue apiserver kube-apiserver "" server "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:$SVC_IP,IP:$NODE_IP"
issue apiserver-kubelet kube-apiserver-kubelet-client system:masters client
issue admin warder-test-admin system:masters client
issue controller-manager system:kube-controller-manager "" client
issue scheduler system:kube-scheduler "" client
issue kubelet-client "system:node:$NODE_NAME" system:nodes client
issue kubelet "$NODE_NAME" "" server "DNS:$NODE_NAME,DNS:localhost,IP:$NODE_IP,IP:127.0.0.1"
openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
kubeconfig() { # file user cert
  cat > "$1" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: warder-test
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: $2
  user: {client-certificate: "$PKI/$3.crt", client-key: "$PKI/$3.key"}
contexts:
- name: warder-test
  context: {cluster: warder-test, user: $2}
current-context: warder-test
YAML
}
kubeconfig "$WORK/kubeconfig" admin admin
kubeconfig "$RUN/controller-manager.conf" system:kube-controller-manager controller-manager
kubeconfig "$RUN/scheduler.conf" system:kube-scheduler scheduler
kubeconfig "$RUN/kubelet.conf" "system:node:$NODE_NAME" kubelet-client
say "certificates ready (node $NODE_NAME at $NODE_IP)"

spawn() { # name command... : in the background, in its own session
  local n=$1; shift
  setsid "$@" > "$LOGS/$n.log" 2>&1 < /dev/null &
  echo $! > "$RUN/$n.pid"
}
until_ok() { # what seconds command...
  local what=$1 end=$((SECONDS + $2)); shift 2
  until "$@" > /dev/null 2>&1; do
    ((SECONDS < end)) || die "$what not ready after $2 s; logs in $LOGS"
    sleep 0.3
  done
  say "$what ready"
}
KUBECTL=("$BIN/kubectl" --kubeconfig "$WORK/kubeconfig")

# --- the guard: pod traffic stays on this machine ------------------------------------------
iptables -N WARDER-K8S-GUARD 2>/dev/null || iptables -F WARDER-K8S-GUARD
iptables -A WARDER-K8S-GUARD -s "$POD_CIDR" -d "$POD_CIDR" -j RETURN
iptables -A WARDER-K8S-GUARD -s "$POD_CIDR" -d "$NODE_IP" -j RETURN
iptables -A WARDER-K8S-GUARD -s "$POD_CIDR" -j REJECT
iptables -A WARDER-K8S-GUARD -d "$SERVICE_CIDR" -j REJECT
iptables -I FORWARD 1 -j WARDER-K8S-GUARD
iptables -I OUTPUT 1 -j WARDER-K8S-GUARD
# At the first pod the CNI firewall plugin puts its CNI-FORWARD first in
# FORWARD, and that accepts whatever a pod sends: the jump above would
# never be reached. CNI-FORWARD first calls CNI-ADMIN, the chain the plugin
# keeps for an administrator's rules (it makes it if missing, never
# flushes it): the guard goes there too.
iptables -N CNI-ADMIN 2>/dev/null || true
iptables -I CNI-ADMIN 1 -j WARDER-K8S-GUARD

# --- containerd of its own, and the sandbox image ------------------------------------------
# gVisor (issue 32): Debian's runsc has no containerd shim of its own
# (containerd-shim-runsc-v1), so the handler "runsc" is runc's shim
# running runsc as its OCI runtime, as Docker does, through a wrapper that
# adds --network=host (gVisor then uses the pod's network namespace as it
# is: docs/security.md). The RuntimeClass "gvisor" below names it.
RUNSC_TOML=
if command -v runsc >/dev/null; then
  printf '#!/bin/sh\nexec %s --network=host "$@"\n' "$(command -v runsc)" > "$WORK/containerd/runsc-host"
  chmod 755 "$WORK/containerd/runsc-host"
  RUNSC_TOML="    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runsc]
      runtime_type = \"io.containerd.runc.v2\"
      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runsc.options]
        BinaryName = \"$WORK/containerd/runsc-host\"
        SystemdCgroup = false"
fi
cat > "$WORK/containerd/config.toml" <<TOML
version = 2
root = "$WORK/containerd/root"
state = "$WORK/containerd/state"
[grpc]
  address = "$WORK/containerd/containerd.sock"
[ttrpc]
  address = "$WORK/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$WORK/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  disable_hugetlb_controller = true
  tolerate_missing_hugetlb_controller = true
  # Root here lacks CAP_SYS_RESOURCE, so runc cannot set the negative
  # oom_score_adj the kubelet asks for; clamp it to containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
$RUNSC_TOML
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$WORK/cni/net.d"
    max_conf_num = 1
TOML
cat > "$WORK/cni/net.d/10-warder-test.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "warder-test", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$WORK/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "firewall", "backend": "iptables"}
]}
JSON
spawn containerd containerd --config "$WORK/containerd/config.toml"
CTR=(ctr -a "$WORK/containerd/containerd.sock" -n k8s.io)
until_ok containerd 30 "${CTR[@]}" version
ctx=$(mktemp -d)
cp "$BIN/pause" "$ctx/"
printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' > "$ctx/Dockerfile"
tag=${PAUSE_IMAGE#docker.io/}
DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" > /dev/null
docker save "$tag" | "${CTR[@]}" images import - > /dev/null
docker rmi "$tag" > /dev/null
rm -rf "$ctx"
say "sandbox image imported"

# --- control plane --------------------------------------------------------------------------
spawn etcd "$BIN/etcd" --name warder-test --data-dir "$WORK/etcd" --log-level warn --unsafe-no-fsync \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "warder-test=http://127.0.0.1:$ETCD_PEER_PORT"
until_ok etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"
spawn kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --secure-port "$API_PORT" --advertise-address "$NODE_IP" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" --client-ca-file "$PKI/ca.crt" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet.crt" --kubelet-client-key "$PKI/apiserver-kubelet.key" \
  --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction --profiling=false
until_ok kube-apiserver 120 curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://127.0.0.1:$API_PORT/readyz"
spawn kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$RUN/controller-manager.conf" \
  --authentication-kubeconfig "$RUN/controller-manager.conf" --authorization-kubeconfig "$RUN/controller-manager.conf" \
  --bind-address 127.0.0.1 --secure-port "$CM_PORT" --leader-elect=false --client-ca-file "$PKI/ca.crt" \
  --root-ca-file "$PKI/ca.crt" --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --service-account-private-key-file "$PKI/sa.key" --use-service-account-credentials=true \
  --service-cluster-ip-range "$SERVICE_CIDR" --allocate-node-cidrs=false
spawn kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$RUN/scheduler.conf" \
  --authentication-kubeconfig "$RUN/scheduler.conf" --authorization-kubeconfig "$RUN/scheduler.conf" \
  --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --leader-elect=false

# --- the node ---------------------------------------------------------------------------------
cat > "$RUN/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: "$NODE_IP"
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: "$PKI/ca.crt"}}
authorization: {mode: Webhook}
tlsCertFile: "$PKI/kubelet.crt"
tlsPrivateKeyFile: "$PKI/kubelet.key"
containerRuntimeEndpoint: "unix://$WORK/containerd/containerd.sock"
# This machine has cgroup v1, which kubelet 1.35+ refuses unless told.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
resolvConf: /etc/resolv.conf
podLogsDir: "$WORK/pod-logs"
podPidsLimit: 256
serializeImagePulls: false
# Images are imported, never pulled: no image GC, no disk eviction.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
maxPods: 110
YAML
spawn kubelet "$BIN/kubelet" --config "$RUN/kubelet.yaml" --kubeconfig "$RUN/kubelet.conf" \
  --root-dir "$WORK/kubelet" --cert-dir "$PKI" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
until_ok "node $NODE_NAME" 180 "${KUBECTL[@]}" wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
until_ok "default service account" 60 "${KUBECTL[@]}" get serviceaccount default

# --- NetworkPolicies: the CNI bridge ignores them, netpol enforces them ------------------------
# netpol (netpol/main.go) is kube-network-policies' controller as a process on
# the node: it decides each packet queued to nfqueue NETPOL_QUEUE by the
# policies. Its own nftables rules need the kernel's nft "queue" expression,
# which this machine's kernel lacks (its sync logs that error), so iptables'
# NFQUEUE target queues the first packet of every connection a pod opens or
# is sent: pod to pod, pod to the node. What the node itself
# opens (Warder, the tests, the kubelet's probes) is not filtered.
spawn netpol "$BIN/netpol" -kubeconfig "$WORK/kubeconfig" -node "$NODE_NAME" -table "$NETPOL_TABLE" -queue "$NETPOL_QUEUE"
until_ok "NetworkPolicy enforcement" 60 grep -qE "^ *$NETPOL_QUEUE " /proc/net/netfilter/nfnetlink_queue
# In the mangle table, which runs before filter's: the CNI firewall plugin
# puts an ACCEPT of every pod's traffic first in filter's FORWARD.
iptables -t mangle -N WARDER-K8S-NETPOL 2>/dev/null || iptables -t mangle -F WARDER-K8S-NETPOL
iptables -t mangle -A WARDER-K8S-NETPOL -m conntrack --ctstate NEW -j NFQUEUE --queue-num "$NETPOL_QUEUE"
iptables -t mangle -I FORWARD 1 -s "$POD_CIDR" -j WARDER-K8S-NETPOL
iptables -t mangle -I FORWARD 2 -d "$POD_CIDR" -j WARDER-K8S-NETPOL
iptables -t mangle -I INPUT 1 -s "$POD_CIDR" -j WARDER-K8S-NETPOL
echo "$NODE_IP" > "$RUN/node-ip"
echo "$NODE_NAME" > "$RUN/node-name"

# --- storage: a default StorageClass and provisioner.sh, which makes a local volume per claim,
# a loop-mounted file system of the claim's size -------------------------------------------------
"${KUBECTL[@]}" apply -f - > /dev/null <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: warder-local
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: warder.test/local
reclaimPolicy: Retain
volumeBindingMode: Immediate
YAML
spawn provisioner bash "$here/provisioner.sh" "$WORK"
if [[ -n $RUNSC_TOML ]]; then
  "${KUBECTL[@]}" apply -f - > /dev/null <<YAML
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: gvisor}
handler: runsc
YAML
  say "RuntimeClass gvisor (handler runsc: runc's shim running runsc --network=host)"
fi
say "storage provisioner started (volumes in $WORK/volumes)"
say "cluster up: KUBECONFIG=$WORK/kubeconfig"
