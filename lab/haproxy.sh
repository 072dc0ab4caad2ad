#!/bin/bash
# haproxy standing in for the ALB, on the lab host in front of the instances' port 80:
# roundrobin, no retries, no redispatch, HTTP health check GET PATH expecting ${LAB_HEALTH_CODES:-200} (1 s interval,
# 2 fails -> DOWN, 2 passes -> UP), X-Forwarded-For/-Proto like an ALB, stats socket.
#   http://$LAB_HOST_IP:${LAB_LB_PORT:-80}/   and https://$LAB_HOST_IP:${LAB_LB_TLS_PORT:-443}/ (cert: site.lab, lab CA)
# Source it, or: haproxy.sh start HEALTH_PATH NAME=IP [NAME=IP...] | status | stop | cmd "show stat"
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LAB_LB=$LAB_WORK/haproxy
LAB_LB_PORT=${LAB_LB_PORT:-80}
LAB_LB_TLS_PORT=${LAB_LB_TLS_PORT:-443}
LAB_SITE_NAME=${LAB_SITE_NAME:-site.lab}

# haproxy_start HEALTH_PATH NAME=IP...   (restart = reload with the new server list)
haproxy_start() {
  local hp=$1; shift
  mkdir -p "$LAB_LB"
  pki_server site "DNS:$LAB_SITE_NAME,IP:$LAB_HOST_IP"
  cat "$LAB_PKI/site.crt" "$LAB_PKI/site.key" >"$LAB_LB/site.pem"
  {
    cat <<CFG
global
  stats socket $LAB_LB/admin.sock mode 600 level admin
  pidfile $LAB_LB/haproxy.pid
  log stdout format short local0 info
defaults
  mode http
  log global
  option httplog
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout check 2s
  retries 0
  no option redispatch
frontend fe
  bind $LAB_HOST_IP:$LAB_LB_PORT
  bind $LAB_HOST_IP:$LAB_LB_TLS_PORT ssl crt $LAB_LB/site.pem
  option forwardfor
CFG
    # The origin lock (LAB_LB_ONLY_FROM=IP): behind CloudFront the load balancer is internal, reached only by it.
    [ -z "${LAB_LB_ONLY_FROM:-}" ] || echo "  tcp-request connection reject if !{ src $LAB_LB_ONLY_FROM }"
    cat <<CFG
  http-request set-header X-Forwarded-Proto https if { ssl_fc }
  http-request set-header X-Forwarded-Proto http if !{ ssl_fc }
  http-request set-header X-Forwarded-Port %[dst_port]
  default_backend web
backend web
  balance roundrobin
  option httpchk
  http-check send meth GET uri $hp ver HTTP/1.1 hdr Host $LAB_SITE_NAME
  http-check expect status ${LAB_HEALTH_CODES:-200}
  default-server check inter 1s fall 2 rise 2
CFG
    local s
    for s in "$@"; do echo "  server ${s%%=*} ${s#*=}:80"; done
  } >"$LAB_LB/haproxy.cfg"
  haproxy -c -q -f "$LAB_LB/haproxy.cfg" || lab_die "bad haproxy config"
  local old; old=$(cat "$LAB_LB/haproxy.pid" 2>/dev/null || true)
  if [ -n "$old" ] && lab_alive "$old"; then
    haproxy -D -f "$LAB_LB/haproxy.cfg" -sf "$old" >>"$LAB_LB/haproxy.log" 2>&1
  else
    haproxy -D -f "$LAB_LB/haproxy.cfg" >>"$LAB_LB/haproxy.log" 2>&1
  fi
  lab_wait 10 "haproxy socket" test -S "$LAB_LB/admin.sock"
}
# haproxy_cmd "show stat" (raw runtime API)
haproxy_cmd() {
  python3 - "$LAB_LB/admin.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    d = s.recv(65536)
    if not d: break
    out += d
sys.stdout.write(out.decode())
PY
}
# haproxy_status -> "NAME STATUS CHECK" per server, e.g. "a UP L7OK", "b DOWN L7STS" ("UP 1/2" = failing)
haproxy_status() { haproxy_cmd "show stat" | awk -F, '$1=="web" && $2!="BACKEND" {print $2, $18, $37}'; }
# haproxy_wait_up SECONDS NAME... : wait until all named servers are UP
haproxy_wait_up() {
  local t=$1; shift
  _hp_all_up() { local n; for n in "$@"; do haproxy_status | grep -qx "$n UP L7OK" || return 1; done; }
  lab_wait "$t" "haproxy servers UP: $*" _hp_all_up "$@"
}
haproxy_stop() {
  local pid; pid=$(cat "$LAB_LB/haproxy.pid" 2>/dev/null) || return 0
  lab_stop_pid "$pid" TERM 5
  rm -f "$LAB_LB/haproxy.pid" "$LAB_LB/admin.sock"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cmd=${1:-}; shift || true
  case $cmd in
    start) haproxy_start "$@" ;; status) haproxy_status ;; stop) haproxy_stop ;; cmd) haproxy_cmd "$1" ;;
    wait-up) haproxy_wait_up "$@" ;;
    *) echo "usage: $0 start HEALTH_PATH NAME=IP...|status|wait-up SECONDS NAME...|stop|cmd CMD" >&2; exit 2 ;;
  esac
fi
