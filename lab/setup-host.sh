#!/bin/bash
# Install on the HOST (Debian 12) everything the boot lab needs. Idempotent, quiet.
set -euo pipefail
PKGS=(debootstrap systemd-container mariadb-server mariadb-client haproxy nftables
      iproute2 openssl curl e2fsprogs util-linux procps python3 ca-certificates
      debian-archive-keyring zstd nginx redis-server redis-tools)
# The AWS latency setting (latency.sh): iptables' NFQUEUE for netdelay, FUSE for efsfs, a compiler for both.
PKGS+=(iptables fuse3 libfuse3-dev libnetfilter-queue-dev gcc libc6-dev pkg-config)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  log=$(dirname "$0")/work/setup-host.log; mkdir -p "$(dirname "$log")"
  apt-get update -qq >"$log" 2>&1 || { cat "$log"; exit 1; }
  # policy-rc.d: never start daemons (mariadb, haproxy) from the package scripts; the lab runs its own.
  prc=/usr/sbin/policy-rc.d; had_prc=0; [ -e $prc ] && had_prc=1
  [ $had_prc = 1 ] || { printf '#!/bin/sh\nexit 101\n' >$prc; chmod +x $prc; }
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1 || { tail -30 "$log"; exit 1; }
  [ $had_prc = 1 ] || rm -f $prc
fi
# The latency setting's two programs, compiled when their source changed.
. "$(dirname "$0")/latency.sh"
latency_build || { echo "setup-host: netdelay or efsfs did not compile" >&2; exit 1; }
# Every instance's systemd takes inotify instances, all as root: the kernel's default of 128 per user runs out with a
# few instances booted together, and systemd then fails units "because of unavailable resources".
[ "$(cat /proc/sys/fs/inotify/max_user_instances)" -ge 1024 ] || echo 1024 >/proc/sys/fs/inotify/max_user_instances
# Host daemons installed by the packages are not used: the lab starts private instances.
echo "setup-host: ok (${#missing[@]} installed)"
