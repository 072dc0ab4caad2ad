# The object cache stand-in: Debian's redis-server on the bridge, as ElastiCache Serverless for Valkey is reached: TLS
# only (the lab CA's certificate for cache.lab), a `wordpress` ACL user with a password and without @dangerous
# commands, the default user off, and every key evictable (volatile-lru). Sourced by site.sh, which names it in the instances' /etc/hosts.
#   cache_start                 start it (idempotent), on $LAB_CACHE_IP:6379
#   cache_add_password PASSWORD the `wordpress` user also takes PASSWORD (one per rendered stack: each has its own secret)
#   cache_cli ARGS...           redis-cli as the lab's own admin user, over a unix socket (for checks, never for WordPress)
#   cache_freeze / cache_thaw   SIGSTOP / SIGCONT the server: connections hang, as to a cache that stops answering
#   cache_stop
LAB_CACHE_IP=${LAB_CACHE_IP:-$LAB_SUBNET.7}
LAB_CACHE_NAME=cache.lab
LAB_CACHE=$LAB_WORK/cache

cache_pid() { cat "$LAB_CACHE/redis.pid" 2>/dev/null; }

cache_start() {
  if lab_alive "$(cache_pid)"; then return 0; fi
  command -v redis-server >/dev/null || lab_die 'redis-server is missing (lab/setup-host.sh installs it)'
  mkdir -p "$LAB_CACHE" && rm -f "$LAB_CACHE/redis.sock"
  pki_server cache "DNS:$LAB_CACHE_NAME,IP:$LAB_CACHE_IP"
  ip addr replace "$LAB_CACHE_IP/32" dev "$LAB_BRIDGE"
  openssl rand -hex 16 >"$LAB_CACHE/admin.password"
  cat >"$LAB_CACHE/redis.conf" <<EOF
# The object cache stand-in (lab/cache.sh): written at every start.
bind $LAB_CACHE_IP
port 0
tls-port 6379
tls-cert-file $LAB_PKI/cache.crt
tls-key-file $LAB_PKI/cache.key
tls-ca-cert-file $LAB_PKI/ca.crt
tls-auth-clients no
unixsocket $LAB_CACHE/redis.sock
unixsocketperm 700
save ""
appendonly no
maxmemory 128mb
maxmemory-policy volatile-lru
daemonize yes
pidfile $LAB_CACHE/redis.pid
logfile $LAB_CACHE/redis.log
dir $LAB_CACHE
user default off -@all
user wordpress on ~* +@all -@dangerous
user lab-admin on >$(cat "$LAB_CACHE/admin.password") ~* +@all
EOF
  redis-server "$LAB_CACHE/redis.conf" || lab_die "the cache stand-in did not start: $(tail -5 "$LAB_CACHE/redis.log")"
  lab_wait 10 'the cache stand-in' cache_cli PING || lab_die "the cache stand-in does not answer: $(tail -5 "$LAB_CACHE/redis.log")"
}

cache_cli() { REDISCLI_AUTH=$(cat "$LAB_CACHE/admin.password") redis-cli --no-auth-warning --user lab-admin -s "$LAB_CACHE/redis.sock" "$@"; }
cache_add_password() { [ "$(cache_cli ACL SETUSER wordpress ">$1")" = OK ]; }
cache_freeze() { kill -STOP "$(cache_pid)"; }
cache_thaw() { kill -CONT "$(cache_pid)"; }
cache_stop() {
  local pid; pid=$(cache_pid) || return 0
  kill -CONT "$pid" 2>/dev/null || true
  lab_stop_pid "$pid"
  rm -f "$LAB_CACHE/redis.pid"
  ip addr del "$LAB_CACHE_IP/32" dev "$LAB_BRIDGE" 2>/dev/null || true
}
