#!/bin/bash
# Install on the HOST (Debian 12) everything the boot lab needs. Idempotent, quiet.
set -euo pipefail
PKGS=(debootstrap systemd-container mariadb-server mariadb-client haproxy nftables
      iproute2 openssl curl e2fsprogs util-linux procps python3 ca-certificates
      debian-archive-keyring zstd nginx)
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
# Host daemons installed by the packages are not used: the lab starts private instances.
echo "setup-host: ok (${#missing[@]} installed)"
