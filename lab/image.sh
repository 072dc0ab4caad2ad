#!/bin/bash
# Build (once, cached) the Debian 13 "trixie" root filesystem that stands in for the official AMI:
#   $LAB_WORK/image   (key in $LAB_WORK/image/.lab-image-key)
# Cache key = sha256 of this script + the settings it uses + the lab CA certificate. FORCE=1 rebuilds.
# `image.sh facts` prints what the build found out (package versions, wordpress dependencies).
set -euo pipefail
. "$(dirname "$0")/common.sh"
pki_ca
IMG=$LAB_WORK/image
if [ "${1:-}" = facts ]; then cat "$IMG/.lab-facts"; echo "missing in trixie: $(cat "$IMG/.lab-missing-pkgs")"; exit 0; fi
KEY=$( { cat "$LAB_DIR/image.sh" "$LAB_PKI/ca.crt"; echo "$LAB_BOOT_PKGS|$LAB_HOST_IP|$LAB_AWS_PORT|$LAB_MIRROR"; } | sha256sum | cut -c1-16)
if [ "${FORCE:-0}" != 1 ] && [ "$(cat "$IMG/.lab-image-key" 2>/dev/null)" = "$KEY" ]; then
  lab_log "image: cached ($KEY)"; exit 0
fi
exec 9>"$LAB_WORK/image.lock"; flock 9
T0=$SECONDS
TMP=$LAB_WORK/image.tmp
LOG=$LAB_WORK/image-build.log; : >"$LOG"
rm -rf "$TMP"
# The debootstrap result (before our config) is cached separately: it only depends on the package list.
BASE_PKGS=systemd,systemd-sysv,dbus,cloud-init,ca-certificates,curl,iproute2,netbase,procps,less,kmod,udev
BASE_KEY=$(echo "trixie $BASE_PKGS $LAB_MIRROR" | sha256sum | cut -c1-16)
BASE_TAR=$LAB_WORK/debootstrap-$BASE_KEY.tar
inchroot() { # run a command in the image with /proc /dev /sys and the host's network
  systemd-nspawn -q -D "$TMP" --register=no --keep-unit --resolv-conf=replace-host --timezone=off \
    --setenv=DEBIAN_FRONTEND=noninteractive "$@" 2> >(grep -v 'Attempted to remove disk file system' >&2)
}
if [ ! -s "$BASE_TAR" ]; then
  lab_log "image: debootstrap trixie minbase ..."
  # debootstrap's resolver cannot handle virtual packages (cloud-init -> python3-cryptography ->
  # python3-cffi-backend-api-*), so only minbase here and the rest with apt inside.
  debootstrap --variant=minbase trixie "$TMP" "$LAB_MIRROR" >>"$LOG" 2>&1 \
    || { tail -20 "$LOG"; lab_die "debootstrap failed, see $LOG"; }
  lab_log "image: apt-get install ${BASE_PKGS//,/ } ..."
  inchroot apt-get install -y -qq --no-install-recommends ${BASE_PKGS//,/ } >>"$LOG" 2>&1 \
    || { tail -20 "$LOG"; lab_die "base install failed, see $LOG"; }
  inchroot apt-get clean
  tar -C "$TMP" -cf "$BASE_TAR.part" . && mv "$BASE_TAR.part" "$BASE_TAR"
else
  mkdir -p "$TMP" && tar -C "$TMP" -xf "$BASE_TAR"
fi
lab_log "image: base ready in $((SECONDS - T0))s"

# --- apt: like the official image (deb822 sources), keep lists and downloaded debs ---
rm -f "$TMP/etc/apt/sources.list"
cat >"$TMP/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $LAB_MIRROR
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${LAB_MIRROR%/debian}/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
echo 'APT::Keep-Downloaded-Packages "true";' >"$TMP/etc/apt/apt.conf.d/90lab-keep-debs"
inchroot apt-get update -qq >>"$LOG" 2>&1 || lab_die "apt-get update in image failed, see $LOG"
inchroot apt-get -y -qq upgrade >>"$LOG" 2>&1 || lab_die "upgrade failed"
# Verify the boot packages exist in trixie.
missing=""
for p in $LAB_BOOT_PKGS; do
  inchroot apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || missing+=" $p"
done
echo "${missing# }" >"$TMP/.lab-missing-pkgs"
[ -z "$missing" ] || lab_log "image: WARNING: not in trixie:$missing"
present=$(for p in $LAB_BOOT_PKGS; do [[ " $missing " == *" $p "* ]] || echo "$p"; done | xargs)
lab_log "image: pre-downloading boot packages (with and without recommends) ..."
# With recommends: a superset of what "apt-get install" needs with either setting.
inchroot apt-get install -y -qq --download-only $present >>"$LOG" 2>&1 || lab_die "download failed"
inchroot apt-get install -y -qq --download-only --no-install-recommends $present >>"$LOG" 2>&1 || lab_die "download failed"
# "php8.4" (or "php") next to php8.4-fpm keeps wordpress's "libapache2-mod-php | php" from pulling apache2.
inchroot apt-get install -y -qq --download-only $present php8.4 php >>"$LOG" 2>&1 || lab_die "download failed"
# Record the facts the boot-script author needs (printed by 'image.sh facts').
inchroot sh -c "apt-cache policy $present awscli wordpress php8.4-fpm nginx | grep -E '^[a-z0-9]|Candidate'; \
  echo '--- wordpress depends/recommends'; apt-cache show --no-all-versions wordpress | grep -E '^(Version|Depends|Recommends|Suggests):'; \
  echo '--- install simulation (recommends on)'; apt-get -s install $present | grep -c '^Inst'; \
  apt-get -s install $present | grep '^Inst' | awk '{print \$2}' | grep -E '^(apache2|libapache2|mariadb-server|default-mysql-server|php8.4-cgi|wordpress-theme|wordpress-l10n)' ; \
  echo '--- install simulation (--no-install-recommends)'; apt-get -s install --no-install-recommends $present | grep -c '^Inst'; \
  apt-get -s install --no-install-recommends $present | grep '^Inst' | awk '{print \$2}' | grep -E '^(apache2|libapache2|mariadb-server|php8.4-cgi)'" \
  >"$TMP/.lab-facts" 2>&1 || true

# --- cloud-init: NoCloud from /var/lib/cloud/seed/nocloud (written per instance), no network config ---
cat >"$TMP/etc/cloud/cloud.cfg.d/90-lab.cfg" <<'CFG'
# boot lab: NoCloud seed in /var/lib/cloud/seed/nocloud; the network is set up by the host (netns + veth).
datasource_list: [NoCloud, None]
network: {config: disabled}
manage_etc_hosts: false
preserve_hostname: false
apt: {preserve_sources_list: true}
# no sshd in the lab image (the real instances have no SSH either)
ssh_genkeytypes: []
ssh_deletekeys: false
CFG

# --- EFS shim: the kernel has no NFS. mount(8) execs /sbin/mount.<type> helpers for every caller
# (shell, /usr/bin/mount, mount -a from fstab, systemd .mount units), so helpers for nfs, nfs4 and efs
# turn those mounts into a bind mount of /lab/efs (bind-mounted from the host into every instance).
# dpkg-divert keeps nfs-common (installed by the boot script) from replacing them.
cat >"$TMP/usr/local/sbin/lab-mount-nfs" <<'SH'
#!/bin/sh
# lab shim: mount.nfs/mount.nfs4/mount.efs SPEC DIR [-o opts] -> mount --bind /lab/efs DIR
spec=$1 dir=$2
[ -n "$dir" ] || { echo "usage: $0 spec dir [-o options]" >&2; exit 1; }
echo "$(date -Is) lab-nfs-shim: $0 $*" >>/var/log/lab-mount-shim.log
[ -d /lab/efs ] || { echo "lab shim: /lab/efs missing" >&2; exit 32; }
exec /usr/bin/mount --bind /lab/efs "$dir"
SH
chmod 755 "$TMP/usr/local/sbin/lab-mount-nfs"
for h in mount.nfs mount.nfs4 mount.efs; do
  inchroot dpkg-divert --quiet --local --rename --divert "/usr/sbin/$h.distrib" --add "/usr/sbin/$h"
  ln -sf /usr/local/sbin/lab-mount-nfs "$TMP/usr/sbin/$h"
done
mkdir -p "$TMP/lab/efs"

# --- install barrier shim: `php` earlier on PATH than /usr/bin/php (the boot script calls `php`). When the
# host arms it (/lab/barrier/expect holds N, /lab/barrier bound from the host), an `php .../install.php` waits
# until N instances have arrived there, then all run the install at the same moment: the race the install lock
# must win is run in every lab run, not left to chance. Unarmed (no file), it only execs /usr/bin/php.
cat >"$TMP/usr/local/bin/php" <<'SH'
#!/bin/sh
# lab shim, never in the product: see lab/image.sh
case "$1" in
  */install.php)
    if [ -s /lab/barrier/expect ]; then
      want=$(cat /lab/barrier/expect) me=$(cat /proc/sys/kernel/hostname) i=0
      : >"/lab/barrier/arrived-$me"
      echo "lab-barrier: $me waits at the install for $want instances" >&2
      while [ "$(ls /lab/barrier | grep -c '^arrived-')" -lt "$want" ]; do
        i=$((i + 1)); [ "$i" -lt 3000 ] || { echo "lab-barrier: gave up waiting after 150 s" >&2; break; }
        sleep 0.05
      done
      echo "lab-barrier: $(ls /lab/barrier | grep -c '^arrived-') of $want instances arrived; $me installs at $(date +%s.%N)" >&2
    fi ;;
esac
exec /usr/bin/php "$@"
SH
chmod 755 "$TMP/usr/local/bin/php"

# --- AWS CLI -> stand-in: endpoint_url in the shared config (CLI v2 >= 2.13 honours it) ---
mkdir -p "$TMP/root/.aws"
printf '[default]\nendpoint_url = http://%s:%s\n' "$LAB_HOST_IP" "$LAB_AWS_PORT" >"$TMP/root/.aws/config"
chmod 600 "$TMP/root/.aws/config"

# --- lab DB CA in the trust store ---
cp "$LAB_PKI/ca.crt" "$TMP/usr/local/share/ca-certificates/wordpress-lab-ca.crt"
inchroot update-ca-certificates >>"$LOG" 2>&1

# --- container hygiene ---
: >"$TMP/etc/machine-id"; rm -f "$TMP/var/lib/dbus/machine-id"
echo lab-ami >"$TMP/etc/hostname"
rm -f "$TMP/etc/resolv.conf"; printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$LAB_HOST_IP" >"$TMP/etc/resolv.conf"
# No getty/console login needed; units that cannot work in a container are masked.
for u in systemd-networkd-wait-online.service systemd-timesyncd.service apt-daily.timer \
         apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer console-getty.service getty@tty1.service; do
  ln -sf /dev/null "$TMP/etc/systemd/system/$u"
done
rm -rf "$TMP/var/lib/cloud/instances" "$TMP/var/lib/cloud/instance" "$TMP/var/log/cloud-init"*
echo "$KEY" >"$TMP/.lab-image-key"

rm -rf "$IMG.old"; [ -d "$IMG" ] && mv "$IMG" "$IMG.old"
mv "$TMP" "$IMG"; rm -rf "$IMG.old"
lab_log "image: built $KEY in $((SECONDS - T0))s ($(du -sh "$IMG" | cut -f1), $(ls "$IMG/var/cache/apt/archives/"*.deb | wc -l) debs cached)"
