#!/bin/bash
# EBS emulation: a volume is a sparse file $LAB_WORK/ebs/VOL.img behind a loop device.
# AttachVolume (aws ec2 attach-volume, answered by the stand-in) runs ebs-attach-hook.sh, which
# creates the block device node inside the running instance, as EC2 would:
#   the requested name (/dev/xvdf...), /dev/nvmeNn1, and /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_volXXXX.
# Source it, or: ebs.sh create VOL SIZE_GIB [AZ] | delete VOL | loop VOL
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$LAB_DIR/standin.sh"
LAB_EBS=$LAB_WORK/ebs

ebs_loop() { cat "$LAB_EBS/$1.loop" 2>/dev/null || true; }
# ebs_create VOL SIZE_GIB [AZ]: empty (unformatted) volume, registered 'available' in the stand-in
ebs_create() {
  local v=$1 size=$2 loop
  mkdir -p "$LAB_EBS"
  ebs_delete "$v"
  truncate -s "${size}G" "$LAB_EBS/$v.img"
  loop=$(losetup -f --show "$LAB_EBS/$v.img") || lab_die "losetup failed"
  echo "$loop" >"$LAB_EBS/$v.loop"
  standin_add_volume "$v" "$size" "${3:-${LAB_REGION}a}"
}
ebs_delete() {
  local loop; loop=$(ebs_loop "$1")
  [ -z "$loop" ] || losetup -d "$loop" 2>/dev/null || true
  rm -f "$LAB_EBS/$1.img" "$LAB_EBS/$1.loop"
}
ebs_delete_all() { local f; for f in "$LAB_EBS"/*.loop; do [ -e "$f" ] && ebs_delete "$(basename "$f" .loop)"; done; return 0; }

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cmd=${1:-}; shift || true
  case $cmd in
    create) ebs_create "$@" ;; delete) ebs_delete "$1" ;; delete-all) ebs_delete_all ;; loop) ebs_loop "$1" ;;
    *) echo "usage: $0 create VOL SIZE_GIB [AZ]|delete VOL|delete-all|loop VOL" >&2; exit 2 ;;
  esac
fi
