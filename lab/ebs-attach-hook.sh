#!/bin/bash
# Called by aws_standin.py after AttachVolume: ebs-attach-hook.sh VOLUME_ID INSTANCE_ID DEVICE
set -euo pipefail
. "$(dirname "$0")/common.sh"
vol=$1 iid=$2 dev=${3:-/dev/xvdf}
loop=$(cat "$LAB_WORK/ebs/$vol.loop") || { echo "no loop device for $vol" >&2; exit 1; }
inst=$(grep -lx "$iid" "$LAB_WORK"/inst/*/instance-id 2>/dev/null | head -1) || true
[ -n "$inst" ] || { echo "no running lab instance $iid" >&2; exit 1; }
leader=$(cat "$(dirname "$inst")/leader.pid")
mm=$(stat -c '%t %T' "$loop"); maj=$((16#${mm% *})); min=$((16#${mm#* }))
case $dev in /dev/*) ;; *) dev=/dev/$dev ;; esac
[ "${dev#/dev/sd}" != "$dev" ] && dev=/dev/xvd${dev#/dev/sd}   # /dev/sdf -> /dev/xvdf, as on Xen
serial=vol${vol#vol-}
nsenter -t "$leader" -m sh -c "
  mknod -m 660 '$dev' b $maj $min 2>/dev/null || true
  i=1; while [ -e /dev/nvme\${i}n1 ]; do i=\$((i+1)); done
  mknod -m 660 /dev/nvme\${i}n1 b $maj $min
  mkdir -p /dev/disk/by-id
  ln -sf ../../nvme\${i}n1 /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial
"
