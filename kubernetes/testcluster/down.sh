#!/usr/bin/env bash
# down.sh WORK undoes up.sh WORK: pods deleted through the kubelet (so CNI
# releases their addresses), every process up.sh started stopped by its
# recorded pid, leftover shims of this cluster's containerd killed (never
# Docker's), mounts under WORK unmounted (the provisioner's volumes
# included) and the volumes' loop devices detached, the bridge, the chains, netpol's
# nftables table and the kubelet's cgroups removed, the sysctls the kubelet
# rewrote restored, and WORK deleted. Safe to run twice and after a failed
# up.sh.
set -uo pipefail
WORK=${1:?usage: down.sh WORK}
[[ -d $WORK ]] || { echo "down.sh: no $WORK"; exit 0; }
WORK=$(cd "$WORK" && pwd)
: "${BRIDGE:=wk8s0}" "${NETPOL_TABLE:=warder-k8s-netpol}"
RUN=$WORK/run SOCK=$WORK/containerd/containerd.sock
CTR=(ctr -a "$SOCK" -n k8s.io)
BIN=$(cat "$RUN/bin" 2>/dev/null || true)
alive() { [[ -f $RUN/$1.pid ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
halt() { # name [seconds]: TERM, then KILL, the recorded pid only
  local pid
  [[ -f $RUN/$1.pid ]] || return 0
  pid=$(cat "$RUN/$1.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq $((${2:-15} * 5))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$RUN/$1.pid"
}

# Pods first, while the kubelet can still tear their sandboxes down.
halt provisioner 5
halt kube-controller-manager
if alive kube-apiserver && alive kubelet && [[ -x $BIN/kubectl ]]; then
  "$BIN/kubectl" --kubeconfig "$WORK/kubeconfig" --request-timeout=10s delete pods --all -A \
    --grace-period=1 --wait=false > /dev/null 2>&1
  for _ in $(seq 60); do
    [[ -z $("${CTR[@]}" tasks ls -q 2>/dev/null) ]] && break
    sleep 0.5
  done
fi
halt netpol
halt kubelet; halt kube-scheduler; halt kube-apiserver; halt etcd
if alive containerd; then
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks kill -s KILL "$t" > /dev/null 2>&1; done
  sleep 1
  for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do
    "${CTR[@]}" tasks delete -f "$c" > /dev/null 2>&1
    "${CTR[@]}" containers rm "$c" > /dev/null 2>&1
  done
fi
halt containerd 20
# Shims outlive containerd; only those started for this cluster's socket.
for p in /proc/[0-9]*; do
  if tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -qF -- "-address $SOCK "; then kill -KILL "${p#/proc/}" 2>/dev/null; fi
done

for _ in 1 2 3; do
  awk -v w="$WORK/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
done
# The provisioner's volumes: loop devices backed by images under WORK
# (their file systems are unmounted above). A device still busy is
# detached by the kernel as soon as it is not (autoclear).
for _ in 1 2 3; do
  losetup -n -l -O NAME,BACK-FILE 2>/dev/null | awk -v w="$WORK/" 'index($2, w) == 1 {print $1}' | while read -r dev; do
    losetup -d "$dev" 2>/dev/null
  done
  losetup -n -l -O BACK-FILE 2>/dev/null | grep -qF "$WORK/" || break
  sleep 1
done

ip link del "$BRIDGE" 2>/dev/null
nft delete table inet "$NETPOL_TABLE" 2>/dev/null
iptables -D FORWARD -j WARDER-K8S-GUARD 2>/dev/null
iptables -D OUTPUT -j WARDER-K8S-GUARD 2>/dev/null
iptables -D CNI-ADMIN -j WARDER-K8S-GUARD 2>/dev/null
# Chains of ours, the kubelet's and CNI's made during the run (IPv4, and
# the kubelet's IPv6 canaries): the rules that jump to them, then they.
for v in 4 6; do
  ipt=iptables before=$RUN/chains.before
  [[ $v == 6 ]] && ipt=ip6tables before=$RUN/chains6.before
  [[ -f $before ]] || continue
  for table in filter nat mangle; do
    mapfile -t new < <($ipt-save -t $table 2>/dev/null | awk '/^:/{print substr($1, 2)}' | grep -E '^(CNI|KUBE|WARDER-K8S)-' |
      grep -vxFf "$before")
    ((${#new[@]})) || continue
    pattern=$(IFS='|'; echo "${new[*]}")
    $ipt-save -t $table 2>/dev/null | grep -E "^-A .* -j ($pattern)( |$)" | sed 's/^-A /-D /' |
      while read -r rule; do eval $ipt -t $table "$rule" 2>/dev/null; done
    for c in "${new[@]}"; do $ipt -t $table -F "$c" 2>/dev/null; done
    for c in "${new[@]}"; do $ipt -t $table -X "$c" 2>/dev/null; done
  done
done
# nftables tables the run made (iptables-nft makes one at a table's first
# use), if nothing is left in them.
if [[ -f $RUN/nft.before ]]; then
  nft list tables 2>/dev/null | grep -vxFf "$RUN/nft.before" | while read -r _ family name; do
    [[ -n $name ]] || continue
    if ! nft list table "$family" "$name" 2>/dev/null | grep -vqE '^[[:space:]]*(table .*|chain .*|type .*|}|)$'; then
      nft delete table "$family" "$name" 2>/dev/null
    fi
  done
fi
rm -rf /var/lib/cni/results/warder-test-* 2>/dev/null

if [[ -f $RUN/paths.before ]]; then
  for d in /var/lib/kubelet /var/lib/cni /var/log/containers /var/log/pods /run/netns; do
    grep -qxF "$d" "$RUN/paths.before" && continue
    [[ -e $d ]] || continue
    if awk -v w="$d/" 'index($5, w) == 1' /proc/self/mountinfo | grep -q .; then
      echo "down.sh: $d still has mounts; left in place"
      continue
    fi
    # CNI makes /run/netns a bind mount of itself (to share it): a mount
    # up.sh's cluster made, since the directory was not there before.
    for _ in 1 2 3; do
      awk -v d="$d" '$5 == d' /proc/self/mountinfo | grep -q . || break
      umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null
    done
    rm -rf "$d"
  done
fi
for h in /sys/fs/cgroup/*/; do
  [[ -d $h/kubepods ]] && find "$h/kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null
done
if [[ -f $RUN/sysctl.before ]]; then
  while IFS= read -r kv; do sysctl -q -w "$kv" > /dev/null; done < "$RUN/sysctl.before"
fi
find /var/log/containers -maxdepth 1 -type l -lname "$WORK/*" -delete 2>/dev/null
rm -rf "$WORK"
echo "down.sh: done"
