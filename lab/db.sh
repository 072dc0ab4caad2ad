#!/bin/bash
# MariaDB writer (primary) and reader (replica) on the lab bridge, TLS with the lab CA,
# require_secure_transport=ON, GTID replication writer -> reader.
#   writer: $LAB_WRITER_IP:3306 (writer.db.lab)   reader: $LAB_READER_IP:3306 (reader.db.lab)
# Source it, or run: db.sh start PASSWORD [USER] [DB] | stop-reader | start-reader | stop-writer |
#   start-writer | teardown | sql writer|reader "SQL" | selects writer|reader | tls NODE good|foreign-ca|other-name | status
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LAB_DB=$LAB_WORK/db
LAB_DB_PORT=${LAB_DB_PORT:-3306}

_db_ip() { [ "$1" = writer ] && echo "$LAB_WRITER_IP" || echo "$LAB_READER_IP"; }
_db_id() { [ "$1" = writer ] && echo 1 || echo 2; }
db_sock() { echo "$LAB_DB/$1.sock"; }
# db_sql NODE "SQL..."  (as root over the unix socket; -N -B output)
db_sql() { mariadb --no-defaults -S "$(db_sock "$1")" -uroot -N -B -e "$2"; }
# Number of SELECT statements the server executed so far (Com_select).
db_selects() { db_sql "$1" "SHOW GLOBAL STATUS LIKE 'Com_select'" | awk '{print $2}'; }

# db_tls NODE good|foreign-ca|other-name: the certificate NODE presents to new connections from now on (the
# running server reloads it with FLUSH SSL; connections already open keep theirs):
#   good        the lab CA's, naming NODE's host name and IP, as RDS's certificate names its endpoints;
#   foreign-ca  NODE's names, but from another CA, which no instance trusts;
#   other-name  the lab CA's, but naming another host (other.db.lab) only.
db_tls() {
  local n=$1 src ip; ip=$(_db_ip "$n")
  case $2 in
    good) pki_server "db-$n" "DNS:$n.db.lab,IP:$ip${LAB_DB_EXTRA_SAN:+,$LAB_DB_EXTRA_SAN}"; src=$LAB_PKI/db-$n ;;
    foreign-ca) (LAB_PKI=$LAB_PKI/foreign; pki_server "db-$n" "DNS:$n.db.lab,IP:$ip"); src=$LAB_PKI/foreign/db-$n ;;
    other-name) pki_server db-other "DNS:other.db.lab"; src=$LAB_PKI/db-other ;;
    *) lab_die "db_tls NODE good|foreign-ca|other-name" ;;
  esac
  mkdir -p "$LAB_DB"
  cp "$src.crt" "$LAB_DB/$n-tls.crt"; cp "$src.key" "$LAB_DB/$n-tls.key"
  if db_sql "$n" "SELECT 1" >/dev/null 2>&1; then db_sql "$n" "FLUSH SSL"; fi
}

_db_cnf() { # NODE -> writes $LAB_DB/NODE.cnf
  local n=$1 ip; ip=$(_db_ip "$n")
  db_tls "$n" good
  cat >"$LAB_DB/$n.cnf" <<CNF
[mariadbd]
user=root
datadir=$LAB_DB/$n
socket=$(db_sock "$n")
pid-file=$LAB_DB/$n.pid
log-error=$LAB_DB/$n.err
bind-address=$ip
port=$LAB_DB_PORT
skip-name-resolve
server-id=$(_db_id "$n")
log-bin=$n-bin
log-slave-updates
binlog-format=ROW
gtid-strict-mode=ON
require-secure-transport=ON
ssl-ca=$LAB_PKI/ca.crt
ssl-cert=$LAB_DB/$n-tls.crt
ssl-key=$LAB_DB/$n-tls.key
innodb-buffer-pool-size=64M
innodb-log-file-size=16M
performance-schema=OFF
max-connections=200
$([ "$n" = reader ] && printf 'read-only=ON\nrelay-log=%s-relay\n' "$n")
CNF
}

_db_template() { # a freshly initialised datadir, made once and copied for each node
  [ -f "$LAB_DB/template/.ok" ] && return 0
  rm -rf "$LAB_DB/template"; mkdir -p "$LAB_DB/template"
  mariadb-install-db --no-defaults --user=root --datadir="$LAB_DB/template" --auth-root-authentication-method=socket \
    --skip-test-db >"$LAB_DB/install-db.log" 2>&1 || { cat "$LAB_DB/install-db.log"; return 1; }
  touch "$LAB_DB/template/.ok"
}

db_start_node() { # NODE: start mariadbd (datadir must exist), wait for the socket
  local n=$1
  [ -S "$(db_sock "$n")" ] && db_sql "$n" "SELECT 1" >/dev/null 2>&1 && return 0
  _db_cnf "$n"
  setsid mariadbd --defaults-file="$LAB_DB/$n.cnf" </dev/null >>"$LAB_DB/$n.out" 2>&1 &
  disown $! 2>/dev/null || true
  lab_wait 30 "mariadb $n" db_sql "$n" "SELECT 1" || { tail -20 "$LAB_DB/$n.err"; return 1; }
}
db_stop_node() { # NODE [SIGNAL=TERM]: TERM = clean shutdown, KILL = crash
  local n=$1 pid
  pid=$(cat "$LAB_DB/$n.pid" 2>/dev/null) || return 0
  lab_stop_pid "$pid" "${2:-TERM}" 20
  rm -f "$LAB_DB/$n.pid"
}

# db_start PASSWORD [USER=wordpress] [DATABASE=wordpress]
db_start() {
  local pw=$1 user=${2:-wordpress} dbn=${3:-wordpress}
  [ -n "$pw" ] || lab_die "db_start PASSWORD [USER] [DATABASE]"
  db_teardown
  mkdir -p "$LAB_DB"
  _db_template
  cp -a "$LAB_DB/template" "$LAB_DB/writer"; cp -a "$LAB_DB/template" "$LAB_DB/reader"
  db_start_node writer & db_start_node reader & wait
  db_sql writer "SELECT 1" >/dev/null && db_sql reader "SELECT 1" >/dev/null || lab_die "mariadb did not start"
  local esc_pw=${pw//\\/\\\\}; esc_pw=${esc_pw//\'/\\\'}
  local rpw; rpw=$(openssl rand -hex 16)
  local n
  for n in writer reader; do
    # Per-node admin, NOT replicated: mariadb-install-db leaves root@127.0.0.1/::1/host without a password.
    db_sql "$n" "SET sql_log_bin=0;
      DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host NOT IN ('localhost'));
      FLUSH PRIVILEGES;
      CREATE USER 'repl'@'%' IDENTIFIED BY '$rpw' REQUIRE SSL;
      GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%';
      RESET MASTER;"
  done
  # Replicated: the application database and user.
  db_sql writer "CREATE DATABASE \`$dbn\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
    CREATE USER '$user'@'%' IDENTIFIED BY '$esc_pw' REQUIRE SSL;
    GRANT ALL PRIVILEGES ON \`$dbn\`.* TO '$user'@'%';"
  db_sql reader "SET GLOBAL gtid_slave_pos='';
    CHANGE MASTER TO MASTER_HOST='$LAB_WRITER_IP', MASTER_PORT=$LAB_DB_PORT, MASTER_USER='repl',
      MASTER_PASSWORD='$rpw', MASTER_USE_GTID=slave_pos, MASTER_SSL=1, MASTER_SSL_CA='$LAB_PKI/ca.crt',
      MASTER_SSL_VERIFY_SERVER_CERT=1, MASTER_CONNECT_RETRY=1;
    START SLAVE;"
  echo "$rpw" >"$LAB_DB/repl.pw"
  db_wait_replica 30
}

# Wait until the reader's SQL thread has applied everything the writer has written.
db_wait_replica() {
  local t=${1:-30} pos
  pos=$(db_sql writer "SELECT @@gtid_binlog_pos")
  _db_caught_up() {
    [ "$(db_sql reader "SHOW GLOBAL STATUS LIKE 'Slave_running'" | awk '{print $2}')" = ON ] &&
    [ "$(db_sql reader "SELECT @@gtid_slave_pos")" = "$pos" ]
  }
  lab_wait "$t" "replica to reach $pos" _db_caught_up || { mariadb --no-defaults -S "$(db_sock reader)" -uroot -e "SHOW SLAVE STATUS\G" | grep -E 'Running|Error' >&2; return 1; }
}

db_stop_reader() { db_stop_node reader "${1:-TERM}"; }   # db_stop_reader KILL simulates a crash
db_start_reader() { db_start_node reader; }
db_stop_writer() { db_stop_node writer; }
db_start_writer() { db_start_node writer; }
db_status() {
  local n
  for n in writer reader; do
    if db_sql "$n" "SELECT 1" >/dev/null 2>&1; then echo "$n: up selects=$(db_selects "$n") gtid=$(db_sql "$n" 'SELECT @@gtid_current_pos')"; else echo "$n: down"; fi
  done
}
db_teardown() {
  db_stop_node reader KILL; db_stop_node writer KILL
  rm -rf "$LAB_DB/writer" "$LAB_DB/reader" "$LAB_DB"/*.sock "$LAB_DB"/*.err "$LAB_DB"/*.out "$LAB_DB"/*-tls.*
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cmd=${1:-}; shift || true
  case $cmd in
    start) db_start "$@" ;; stop-reader) db_stop_reader ;; start-reader) db_start_reader ;;
    stop-writer) db_stop_writer ;; start-writer) db_start_writer ;; teardown) db_teardown ;;
    sql) db_sql "$@" ;; tls) db_tls "$@" ;; selects) db_selects "$1" ;; status) db_status ;; wait-replica) db_wait_replica "$@" ;;
    *) echo "usage: $0 start PASSWORD [USER] [DB]|stop-reader|start-reader|stop-writer|start-writer|teardown|sql NODE SQL|selects NODE|status" >&2; exit 2 ;;
  esac
fi
