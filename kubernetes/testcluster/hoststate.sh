#!/usr/bin/env bash
# hoststate.sh prints what a test cluster may change on this host, in a
# form two runs can be diffed by: iptables chains, network links, the
# sysctls the kubelet rewrites, the kubelet's cgroups and host paths, and
# mounts of Kubernetes' kinds. .ci/run diffs it before up.sh and after
# down.sh: tear-down must leave the host as it found it.
set -uo pipefail
for t in filter nat mangle; do
  iptables-save -t $t 2>/dev/null | awk -v t=$t '/^:/{print "chain " t " " substr($1, 2)}'
  iptables-save -t $t 2>/dev/null | grep -E '^-A .*(KUBE|CNI|WARDER-K8S)' | sed "s/^/rule $t /"
done | sort
iptables-legacy-save 2>/dev/null | awk '/^\*/{t=substr($1, 2)} /^:/{print "legacy " t " " substr($1, 2)}' | sort
ip -o link show | awk -F': ' '{print "link " $2}' | sed 's/@.*//' | grep -vE '^link (veth|br-)' | sort
for k in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes; do
  echo "sysctl $k=$(sysctl -n $k)"
done
for d in /var/lib/kubelet /var/lib/cni /var/log/containers /var/log/pods /run/netns; do
  [[ -e $d ]] && echo "path $d"
done
ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null | sed 's/^/cgroup /'
awk '$5 ~ /kubelet|kubernetes|warder-k8s|pod-logs/ {print "mount " $5}' /proc/self/mountinfo | sort
