#!/usr/bin/env bash
# hoststate.sh prints what the test cluster may change on this host, in a
# form two runs can be diffed by: its iptables chains and rules (KUBE-*,
# CNI-*, WARDER-K8S-*, in both iptables backends, and IPv6), its nftables
# tables (warder-k8s-*), its bridge and network namespaces, the sysctls the
# kubelet rewrites, the kubelet's cgroups and host paths, mounts of
# Kubernetes' kinds and every mount under a cluster's directory
# (/tmp/warder-k8s.*: the provisioner's volumes too), and the loop devices
# whose image is in one (the volumes'). .ci/run diffs it before
# up.sh and after down.sh: tear-down must leave the host as it found it.
# (Docker's and Podman's own objects are the tests' to clean, by name.)
set -uo pipefail
: "${BRIDGE:=wk8s0}"
for save in iptables-save iptables-legacy-save ip6tables-save; do
  for t in filter nat mangle raw; do
    $save -t $t 2>/dev/null | awk -v s=$save -v t=$t '/^:(KUBE|CNI|WARDER-K8S)-/{print s " chain " t " " substr($1, 2)}'
    $save -t $t 2>/dev/null | grep -E '^-A .*(KUBE|CNI|WARDER-K8S)-' | sed "s/^/$save rule $t /"
  done
done | sort
nft list tables 2>/dev/null | grep -E ' warder-k8s' | sed 's/^/nft /'
ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^($BRIDGE|cni)" | sed 's/^/link /' | sort
for k in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes; do
  echo "sysctl $k=$(sysctl -n $k)"
done
for d in /var/lib/kubelet /var/lib/cni /var/log/containers /var/log/pods; do
  [[ -e $d ]] && echo "path $d"
done
ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null | sed 's/^/cgroup /'
awk '$5 ~ /kubelet|kubernetes|warder-k8s|pod-logs/ {print "mount " $5}' /proc/self/mountinfo | sort
losetup -n -l -O NAME,BACK-FILE 2>/dev/null | awk '$2 ~ /warder-k8s/ {print "loop " $1 " " $2}' | sort
true
