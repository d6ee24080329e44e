#!/usr/bin/env bash
# provisioner.sh WORK is the test cluster's storage provisioner, started by
# up.sh and stopped by down.sh: a cluster of one node needs no more than a
# directory per claim. Every half second it gives each pending claim of the
# default StorageClass (warder-local) a local PersistentVolume of its own,
# a new directory under WORK/volumes bound to that claim alone, and deletes
# the volumes (and their directories) whose claims were deleted. A local
# volume, unlike a hostPath one, has its group set to the pod's fsGroup by
# the kubelet, so a non-root agent can write to it as on a real cluster's
# disks. Sizes are recorded, not enforced: a directory has no quota.
set -uo pipefail
WORK=${1:?usage: provisioner.sh WORK}
BIN=$(cat "$WORK/run/bin") NODE=$(cat "$WORK/run/node-name")
K=("$BIN/kubectl" --kubeconfig "$WORK/kubeconfig" --request-timeout=10s)
mkdir -p "$WORK/volumes"
pending='{range .items[?(@.status.phase=="Pending")]}{.metadata.namespace} {.metadata.name} {.metadata.uid} {.spec.resources.requests.storage} {.spec.storageClassName}{"\n"}{end}'
released='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}'
while sleep 0.5; do
  "${K[@]}" get pvc -A -o jsonpath="$pending" 2>/dev/null | while read -r ns name uid size class; do
    [[ $class == warder-local && $uid =~ ^[0-9a-f-]+$ ]] || continue
    pv=pvc-$uid dir=$WORK/volumes/pvc-$uid
    mkdir -p "$dir"
    "${K[@]}" create -f - > /dev/null 2>&1 <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: $pv, labels: {warder-test/provisioned: "true"}}
spec:
  capacity: {storage: "$size"}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: warder-local
  claimRef: {namespace: "$ns", name: "$name", uid: "$uid"}
  local: {path: "$dir"}
  nodeAffinity:
    required:
      nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: ["$NODE"]}]}]
YAML
  done
  "${K[@]}" get pv -l warder-test/provisioned=true -o jsonpath="$released" 2>/dev/null | while read -r pv; do
    [[ $pv =~ ^pvc-[0-9a-f-]+$ ]] || continue
    "${K[@]}" delete pv "$pv" --wait=false > /dev/null 2>&1 && rm -rf "${WORK:?}/volumes/$pv"
  done
done
