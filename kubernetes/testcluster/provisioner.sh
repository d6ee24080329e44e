#!/usr/bin/env bash
# provisioner.sh WORK is the test cluster's storage provisioner, started by
# up.sh and stopped by down.sh. Every half second it gives each pending
# claim of the default StorageClass (warder-local) a local PersistentVolume
# of its own, bound to that claim alone, and deletes the volumes whose
# claims were deleted.
#
# Each volume is a file system of the claim's requested size, so a pod
# that writes past it gets ENOSPC and the host's disk is safe: a sparse
# image file WORK/volumes/pvc-UID.img (it takes only what is written),
# made ext4 with no reserved blocks and no journal (a throwaway cluster's
# volumes need no crash recovery, and a small one keeps its blocks for
# files), attached to a loop device and mounted nosuid,nodev at
# WORK/volumes/pvc-UID, the local volume's path. Requests under 1 MiB get
# 1 MiB (ext4's practical floor). A local volume, unlike a hostPath one,
# has its group set to the pod's fsGroup by the kubelet, so a non-root
# agent can write to it as on a real cluster's disks.
#
# Released volumes are unmounted, detached and deleted once no other
# mount of theirs is left (the kubelet unmounts a pod's volumes a moment
# after the pod is gone), then their PersistentVolume is deleted; a
# volume with neither a PersistentVolume nor a pending claim (its claim
# went before the PersistentVolume was made) is deleted too. down.sh
# removes whatever is left.
set -uo pipefail
WORK=${1:?usage: provisioner.sh WORK}
BIN=$(cat "$WORK/run/bin") NODE=$(cat "$WORK/run/node-name")
K=("$BIN/kubectl" --kubeconfig "$WORK/kubeconfig" --request-timeout=10s)
VOL=$WORK/volumes
mkdir -p "$VOL"
log() { echo "provisioner.sh: $*" >&2; }
pending='{range .items[?(@.status.phase=="Pending")]}{.metadata.namespace} {.metadata.name} {.metadata.uid} {.spec.resources.requests.storage} {.spec.storageClassName}{"\n"}{end}'
pvs='{range .items[*]}{.metadata.name} {.status.phase}{"\n"}{end}'

# bytes QUANTITY: a storage quantity ("4Mi", "1Gi", "500M", "1048576",
# "12e6") in bytes; fails on anything else (a fraction, say).
bytes() {
  local q=$1 n unit mult=1
  [[ $q =~ ^([0-9]+)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P|e[0-9]+)?$ ]] || return 1
  n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]}
  case $unit in
    Ki) mult=$((1 << 10)) ;; Mi) mult=$((1 << 20)) ;; Gi) mult=$((1 << 30)) ;; Ti) mult=$((1 << 40)) ;; Pi) mult=$((1 << 50)) ;;
    k) mult=1000 ;; M) mult=1000000 ;; G) mult=1000000000 ;; T) mult=1000000000000 ;; P) mult=1000000000000000 ;;
    e*) ((${unit#e} <= 15)) || return 1; mult=$((10 ** ${unit#e})) ;;
  esac
  ((${#n} <= 16)) || return 1
  n=$((10#$n * mult))
  ((n > 0 && n <= 1 << 50)) || return 1
  echo "$n"
}

# loopof PV: the loop device holding PV's image, if any.
loopof() { losetup -n -O NAME -j "$VOL/$1.img" 2>/dev/null | head -n1; }

# setup PV BYTES: PV's file system, made and mounted (again, after a
# failure half-way).
setup() {
  local pv=$1 size=$2 dir=$VOL/$1 img=$VOL/$1.img dev
  mountpoint -q "$dir" && return 0
  mkdir -p "$dir" || return 1
  dev=$(loopof "$pv")
  if [[ -z $dev ]]; then
    rm -f "$img"
    truncate -s "$((size > 1 << 20 ? size : 1 << 20))" "$img" &&
      mkfs.ext4 -q -F -m 0 -O ^has_journal -E lazy_itable_init=1,nodiscard "$img" > /dev/null &&
      dev=$(losetup -f --show "$img") || { log "$pv: no file system: mkfs or losetup failed"; rm -f "$img"; return 1; }
  fi
  # noinit_itable: the image is sparse, its inode tables read as zeros.
  if ! mount -t ext4 -o nosuid,nodev,noinit_itable "$dev" "$dir"; then
    log "$pv: mount $dev failed"
    teardown "$pv"
    return 1
  fi
  rmdir "$dir/lost+found" # so a workspace starts empty
  return 0
}

# teardown PV: unmount, detach and delete PV's file system; fails, leaving
# it for the next round, while anything else still mounts it.
teardown() {
  local pv=$1 dir=$VOL/$1 dev
  dev=$(loopof "$pv")
  if [[ -n $dev ]] && awk -v d="$dev" -v m="$dir" '{for (i = 7; i < NF; i++) if ($i == "-") break; if ($(i+2) == d && $5 != m) found = 1} END {exit !found}' /proc/self/mountinfo; then
    return 1 # still mounted elsewhere (a pod's mount the kubelet has yet to undo)
  fi
  if mountpoint -q "$dir" && ! umount "$dir"; then
    log "$pv: umount failed"; return 1
  fi
  if [[ -n $dev ]] && ! losetup -d "$dev"; then
    log "$pv: losetup -d $dev failed"; return 1
  fi
  rm -f "$VOL/$pv.img" && rmdir "$dir" 2>/dev/null
  [[ ! -e $dir && ! -e $VOL/$pv.img ]]
}

while sleep 0.5; do
  have=$("${K[@]}" get pv -l warder-test/provisioned=true -o jsonpath="$pvs" 2>/dev/null) || continue
  while read -r pv phase; do
    [[ $phase == Released && $pv =~ ^pvc-[0-9a-f-]+$ ]] || continue
    teardown "$pv" && "${K[@]}" delete pv "$pv" --wait=false > /dev/null 2>&1
  done <<< "$have"

  claims=$("${K[@]}" get pvc -A -o jsonpath="$pending" 2>/dev/null) || continue
  made=()
  while read -r ns name uid size class; do
    [[ $class == warder-local && $uid =~ ^[0-9a-f-]+$ ]] || continue
    pv=pvc-$uid
    made+=("$pv")
    n=$(bytes "$size") || { log "$ns/$name: cannot read the size $size"; continue; }
    setup "$pv" "$n" || continue
    "${K[@]}" create -f - > /dev/null 2>&1 <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: $pv, labels: {warder-test/provisioned: "true"}}
spec:
  capacity: {storage: "$size"}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: warder-local
  volumeMode: Filesystem
  claimRef: {namespace: "$ns", name: "$name", uid: "$uid"}
  local: {path: "$VOL/$pv"}
  nodeAffinity:
    required:
      nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: ["$NODE"]}]}]
YAML
  done <<< "$claims"

  # Volumes of claims deleted before their PersistentVolume was made.
  for img in "$VOL"/pvc-*.img; do
    [[ -e $img ]] || continue
    pv=$(basename "$img" .img)
    grep -q "^$pv " <<< "$have" && continue
    [[ " ${made[*]} " == *" $pv "* ]] && continue
    # made meanwhile, or the API server cannot say: keep it
    got=$("${K[@]}" get pv "$pv" --ignore-not-found -o name 2>/dev/null) || continue
    [[ -z $got ]] || continue
    teardown "$pv"
  done
done
