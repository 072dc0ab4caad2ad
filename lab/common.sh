# Shared constants and helpers for the boot lab. Source it: . "$(dirname "$0")/common.sh"
LAB_DIR=${LAB_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
LAB_WORK=${LAB_WORK:-$LAB_DIR/work}
LAB_BRIDGE=${LAB_BRIDGE:-labbr0}
LAB_SUBNET=${LAB_SUBNET:-10.231.0}          # /24
LAB_HOST_IP=$LAB_SUBNET.1                   # host side of the bridge: AWS stand-in, haproxy
LAB_WRITER_IP=$LAB_SUBNET.2                 # MariaDB primary
LAB_READER_IP=$LAB_SUBNET.3                 # MariaDB replica
LAB_IMDS_IP=169.254.169.254
LAB_AWS_PORT=${LAB_AWS_PORT:-4566}          # endpoint_url port of the AWS stand-in
LAB_WRITER_NAME=writer.db.lab
LAB_READER_NAME=reader.db.lab
LAB_EFS_DIR=${LAB_EFS_DIR:-$LAB_WORK/efs}   # host dir seen as /lab/efs in every instance
LAB_MIRROR=${LAB_MIRROR:-http://deb.debian.org/debian}
# Packages the boot script installs: pre-downloaded (not installed) in the image.
LAB_BOOT_PKGS="nginx php8.4-fpm php8.4-mysql php8.4-curl php8.4-gd php8.4-intl php8.4-mbstring php8.4-xml php8.4-zip php8.4-opcache php8.4-redis wordpress awscli python3-boto3 stunnel4 nfs-common mariadb-client e2fsprogs"
mkdir -p "$LAB_WORK"

lab_log() { printf '[lab %s] %s\n' "$(date +%T)" "$*" >&2; }
lab_die() { lab_log "ERROR: $*"; exit 1; }
# A process counts as alive unless gone or a zombie (daemons here are reaped late by PID 1).
# (No PID is no process: "/proc//stat" would read the kernel's /proc/stat.)
lab_alive() { local s; [ -n "$1" ] && s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$s" ] && [ "$s" != Z ]; }
# lab_stop_pid PID [SIGNAL=TERM] [SECONDS=10]: signal, wait, then SIGKILL
lab_stop_pid() {
  local p=$1 sig=${2:-TERM} t=${3:-10} i
  [ -n "$p" ] || return 0
  kill -"$sig" "$p" 2>/dev/null || return 0
  for ((i = 0; i < t * 20; i++)); do lab_alive "$p" || return 0; sleep 0.05; done
  kill -9 "$p" 2>/dev/null || true
}
# Wait until a command succeeds: lab_wait SECONDS DESCRIPTION CMD...
lab_wait() {
  local t=$1 what=$2; shift 2
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || { lab_log "timeout (${t}s) waiting for $what"; return 1; }
    sleep 0.2
  done
}

# ---- PKI: one lab CA, persistent under work/pki so the cached image stays valid ----
LAB_PKI=$LAB_WORK/pki
pki_ca() {
  mkdir -p "$LAB_PKI"
  [ -s "$LAB_PKI/ca.crt" ] && return 0
  ( flock 8; [ -s "$LAB_PKI/ca.crt" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=WordPress Lab CA" \
    -keyout "$LAB_PKI/ca.key" -out "$LAB_PKI/ca.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  ) 8>"$LAB_PKI/.lock"
}
# pki_server NAME SAN   e.g. pki_server writer "DNS:writer.db.lab,IP:10.231.0.2" -> $LAB_PKI/NAME.{crt,key}
pki_server() {
  local n=$1 san=$2
  pki_ca
  [ -s "$LAB_PKI/$n.crt" ] && [ "$(cat "$LAB_PKI/$n.san" 2>/dev/null)" = "$san" ] && return 0
  ( flock 8
  openssl req -newkey rsa:2048 -nodes -subj "/CN=lab-$n" -keyout "$LAB_PKI/$n.key" \
    -out "$LAB_PKI/$n.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san" >"$LAB_PKI/$n.ext"
  openssl x509 -req -in "$LAB_PKI/$n.csr" -CA "$LAB_PKI/ca.crt" -CAkey "$LAB_PKI/ca.key" \
    -CAcreateserial -days 3650 -extfile "$LAB_PKI/$n.ext" -out "$LAB_PKI/$n.crt" 2>/dev/null
  echo "$san" >"$LAB_PKI/$n.san"
  ) 8>"$LAB_PKI/.lock"
}
