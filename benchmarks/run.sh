#!/bin/bash
# The benchmark: how fast an instance of the construct serves, against references run in the same run.
#
# In the boot lab (lab/README.md), it boots two instances from the same Debian 13 image:
# - ours: the user data of benchmarks/app.ts (Aurora with one reader, EFS, every default), unchanged;
# - stock: Debian's wordpress package with its defaults (Apache with mod_php), configured only as far as
#   Debian's README.Debian says, on the same database server (its own database, over TLS as ours).
# Then benchmarks/bench.py measures (wrk for throughput). Last, with those two gone, it boots one instance of
# BenchEdgeSite (the same site behind CloudFront) behind the load balancer stand-in, which answers only the edge,
# and the CloudFront stand-in generated from that template's distribution (lab/edge.py), and measures anonymous
# pages through the edge and the time from publishing an edit to every visitor seeing it. It writes
# benchmarks/results.json and benchmarks/RESULTS.md; the synthesis figures come from benchmarks/consumer-synth.py.
#
# The web part runs once per latency setting (BENCH_SETTINGS, default "local aws": lab/latency.sh), each time on
# fresh instances, database and media; the edge part runs at the last of them.
#
# Root only, one lab per machine (it uses the lab's bridge and names). Run it with `npx projen bench`,
# which builds the Python wheel first (without one, synthesis is measured in TypeScript only). BENCH_SECONDS sets
# the length of each wrk run (default 10).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT/lab"
. ./lab.sh
. ./site.sh

OURS_IP=$LAB_SUBNET.31
STOCK_IP=$LAB_SUBNET.32
EDGE_ORIGIN_IP=$LAB_SUBNET.33
STOCK_SITE=stock.lab
WORK=$LAB_WORK/bench
# The stock site calls itself for wp-cron, as WordPress does by default: its name must resolve.
export LAB_EXTRA_HOSTS="$LAB_EXTRA_HOSTS
$STOCK_IP $STOCK_SITE"

trap 'site_teardown >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM

BENCH_SETTINGS=${BENCH_SETTINGS:-local aws}
for setting in $BENCH_SETTINGS; do
  case $setting in local | aws) ;; *) lab_die "BENCH_SETTINGS: $setting is not a latency setting (local, aws)" ;; esac
done
./setup-host.sh >/dev/null
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
./image.sh
rm -rf "$WORK" && mkdir -p "$WORK"
site_synth benchmarks/app.ts
site_teardown >/dev/null 2>&1 || true
rm -rf "$LAB_WORK/render"
render BenchSite ours
render BenchEdgeSite edge
O=$LAB_WORK/render/ours
E=$LAB_WORK/render/edge
DB_PASSWORD=$(site_secret "$O" WP_DB_SECRET_ARN password)
STOCK_DB_PASSWORD=$(openssl rand -hex 16)
STOCK_ADMIN_PASSWORD=$(openssl rand -hex 16)

# The stock instance: Debian's packages and README.Debian's "defined virtual host", nothing tuned.
cat >"$WORK/stock-user-data" <<EOF
#!/bin/bash
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q wordpress
cat >/etc/apache2/sites-available/wordpress.conf <<'CONF'
<VirtualHost *:80>
ServerName $STOCK_SITE
DocumentRoot /usr/share/wordpress/
DirectoryIndex index.php index.html
Alias /wp-content /var/lib/wordpress/wp-content
<Directory /usr/share/wordpress>
    Options FollowSymLinks
    Require all granted
</Directory>
<Directory /var/lib/wordpress/wp-content>
    Options FollowSymLinks
    Require all granted
</Directory>
</VirtualHost>
CONF
a2ensite -q wordpress
a2dissite -q 000-default
systemctl reload apache2
# The lab's database server requires TLS, as Aurora does for ours: the one line stock needs for it.
cat >/etc/wordpress/config-$STOCK_SITE.php <<'CONF'
<?php
define('DB_NAME', 'stock');
define('DB_USER', 'stock');
define('DB_PASSWORD', '$STOCK_DB_PASSWORD');
define('DB_HOST', '$LAB_WRITER_NAME');
define('MYSQL_CLIENT_FLAGS', MYSQLI_CLIENT_SSL);
$(for key in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
  echo "define('$key', '$(openssl rand -hex 32)');"; done)
CONF
chgrp www-data /etc/wordpress/config-$STOCK_SITE.php && chmod 640 /etc/wordpress/config-$STOCK_SITE.php
EOF

# ---- The web part, once per latency setting ----
# bench_web SETTING: the lab's services afresh at a latency setting, ours and stock booted, every web figure measured
# into $WORK/web-SETTING.json
bench_web() {
export LAB_LATENCY=$1
lab_log "bench: the web part at LAB_LATENCY=$LAB_LATENCY"
site_teardown >/dev/null 2>&1 || true
rm -rf "$LAB_EFS_DIR" && mkdir -p "$LAB_EFS_DIR"
net_up
standin_init
add_secrets "$O"
add_secrets "$E"
standin_start
truststore_start
# The object cache stand-in (lab/cache.sh), for the sites that have one (BENCH_OBJECT_CACHE=none: neither has).
cache_start
for d in "$O" "$E"; do
  [ -z "$(user_data_value "$d" WP_CACHE_HOST)" ] || cache_add_password "$(site_secret "$d" WP_CACHE_SECRET_ARN password)"
done
db_start "$DB_PASSWORD" wordpress wordpress
db_sql writer "CREATE DATABASE stock; CREATE USER 'stock'@'%' IDENTIFIED BY '$STOCK_DB_PASSWORD' REQUIRE SSL;
  GRANT ALL PRIVILEGES ON stock.* TO 'stock'@'%'"

# Ours boots first and alone, so that its boot time is not shared with the stock instance's.
STARTED=$(date +%s.%N)
inst_boot ours "$OURS_IP" "$O/user-data"
HEALTH=$(stack_value "$O" healthCheckPath)
healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$OURS_IP$HEALTH")" = 200 ]; }
lab_wait 600 'ours to pass the health check' healthy || lab_die 'ours never became healthy'
HEALTHY=$(date +%s.%N)
inst_wait ours 300
# The fleet-wide wp-cron timer would add its queries to the read-offload counts: the benchmark stops it.
inst_exec ours systemctl stop scalable-wordpress-cron.timer
inst_boot stock "$STOCK_IP" "$WORK/stock-user-data"
inst_wait stock 600
# The setting holds, seen from both instances (and the load balancer's path is not delayed): latency.sh.
latency_check ours "$WORK/latency-$LAB_LATENCY-ours.json" || lab_die "ours' round trips do not match LAB_LATENCY=$LAB_LATENCY"
latency_check stock "$WORK/latency-$LAB_LATENCY-stock.json" || lab_die "stock's round trips do not match LAB_LATENCY=$LAB_LATENCY"
EFS_STATS=''
if [ "$LAB_LATENCY" = aws ]; then EFS_STATS=$LAB_LAT/efs.stats; fi

export OURS_IP STOCK_IP SITE STOCK_SITE STARTED HEALTHY STOCK_ADMIN_PASSWORD
OURS_ROOT=$(inst_root ours) OURS_LEADER=$(inst_leader ours) STOCK_ROOT=$(inst_root stock) STOCK_LEADER=$(inst_leader stock)
ADMIN=$(site_secret "$O" WP_ADMIN_SECRET_ARN username)
ADMIN_PASSWORD=$(site_secret "$O" WP_ADMIN_SECRET_ARN password)
PAGE_CACHE_SECONDS=$(user_data_value "$O" WP_PAGE_CACHE_SECONDS)
WRITER_SOCK=$(db_sock writer) READER_SOCK=$(db_sock reader)
export OURS_ROOT OURS_LEADER STOCK_ROOT STOCK_LEADER ADMIN ADMIN_PASSWORD PAGE_CACHE_SECONDS WRITER_SOCK READER_SOCK
export LAB_RTT_WRITER_MS LAB_RTT_READER_MS LAB_RTT_CACHE_MS LAB_EFS_READ_MS LAB_EFS_WRITE_MS EFS_STATS WORK
python3 - "$WORK/config-$LAB_LATENCY.json" <<'PY'
import json, os, sys
e = os.environ
setting = e['LAB_LATENCY']
json.dump({
    'setting': setting,
    # What the setting gives (lab/latency.sh) and what the instances measured of it (latency_check)
    'latency': dict({'rtt_writer_ms': 0, 'rtt_reader_ms': 0, 'rtt_cache_ms': 0, 'efs_read_ms': None, 'efs_write_ms': None}
                    if setting == 'local' else
                    {'rtt_writer_ms': float(e['LAB_RTT_WRITER_MS']), 'rtt_reader_ms': float(e['LAB_RTT_READER_MS']),
                     'rtt_cache_ms': float(e['LAB_RTT_CACHE_MS']), 'efs_read_ms': float(e['LAB_EFS_READ_MS']),
                     'efs_write_ms': float(e['LAB_EFS_WRITE_MS'])},
                    checks={name: json.load(open(f'{e["WORK"]}/latency-{setting}-{name}.json')) for name in ('ours', 'stock')}),
    'efs_stats': e['EFS_STATS'] or None,
    'ours': {'ip': e['OURS_IP'], 'host': e['SITE'], 'root': e['OURS_ROOT'], 'leader': int(e['OURS_LEADER']),
             'admin': e['ADMIN'], 'password': e['ADMIN_PASSWORD'], 'page_cache_seconds': int(e['PAGE_CACHE_SECONDS']),
             'boot_log': e['OURS_ROOT'] + '/var/log/cloud-init-output.log',
             'boot_started': float(e['STARTED']), 'boot_healthy': float(e['HEALTHY'])},
    'stock': {'ip': e['STOCK_IP'], 'host': e['STOCK_SITE'], 'root': e['STOCK_ROOT'], 'leader': int(e['STOCK_LEADER']),
              'admin': 'admin', 'password': e['STOCK_ADMIN_PASSWORD']},
    'db': {'writer': e['WRITER_SOCK'], 'reader': e['READER_SOCK']},
    # The construct's default instance type, whose memory the PHP-FPM pool sizing must stay within.
    'instance_type': {'name': 'm5.large', 'memory_mib': 8192},
    'seconds': int(e.get('BENCH_SECONDS', '10')),
}, open(sys.argv[1], 'w'), indent=2)
PY
python3 "$ROOT/benchmarks/bench.py" measure "$WORK/config-$LAB_LATENCY.json" "$WORK/web-$LAB_LATENCY.json"
# Packets the latency setting lost in all that (a full queue): the report's targets want none.
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); d["latency"]["dropped_packets"] = int(sys.argv[2]); json.dump(d, open(sys.argv[1], "w"), indent=2)' \
  "$WORK/web-$LAB_LATENCY.json" "$(latency_dropped)"
inst_destroy ours; inst_destroy stock
} # (the body of bench_web is not indented: its heredocs are Python)

for setting in $BENCH_SETTINGS; do bench_web "$setting"; done

# ---- Behind the edge: BenchEdgeSite on a fresh database and file system, alone on the machine, at the last setting ----
db_sql writer "DROP DATABASE wordpress; CREATE DATABASE wordpress;
  ALTER USER 'wordpress'@'%' IDENTIFIED BY '$(site_secret "$E" WP_DB_SECRET_ARN password | sed "s/'/''/g")'"
efs_down  # (the EFS stand-in, if any, comes back over the new directory when the origin boots)
rm -rf "$LAB_EFS_DIR" && mkdir -p "$LAB_EFS_DIR"
EDGE_HEALTH=$(stack_value "$E" healthCheckPath)
LAB_LB_ONLY_FROM=$LAB_EDGE_IP haproxy_start "$EDGE_HEALTH" origin="$EDGE_ORIGIN_IP"
standin_add_distribution "$DISTRIBUTION_ID" "$LAB_EDGE/cache"
edge_start "$LAB_WORK/cdk.out/BenchEdgeSite.template.json" "$LAB_HOST_IP:80" "$SITE" "$SITE" || lab_die 'the edge stand-in did not start'
inst_boot origin "$EDGE_ORIGIN_IP" "$E/user-data"
origin_healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$EDGE_ORIGIN_IP$EDGE_HEALTH")" = 200 ]; }
lab_wait 600 'the edge site to pass the health check' origin_healthy || lab_die 'the edge site never became healthy'
inst_wait origin 300
inst_exec origin systemctl stop scalable-wordpress-cron.timer
EDGE_IP=$LAB_EDGE_IP CA_FILE=$LAB_PKI/ca.crt LB_SOCKET=$LAB_LB/admin.sock INVALIDATIONS=$LAB_AWS/invalidations.jsonl
EDGE_ADMIN=$(site_secret "$E" WP_ADMIN_SECRET_ARN username) EDGE_ADMIN_PASSWORD=$(site_secret "$E" WP_ADMIN_SECRET_ARN password)
EDGE_PAGE_CACHE_SECONDS=$(user_data_value "$E" WP_PAGE_CACHE_SECONDS)
export EDGE_IP EDGE_ORIGIN_IP CA_FILE LB_SOCKET INVALIDATIONS DISTRIBUTION_ID EDGE_ADMIN EDGE_ADMIN_PASSWORD EDGE_PAGE_CACHE_SECONDS
python3 - "$WORK/edge-config.json" <<'PY'
import json, os, sys
e = os.environ
json.dump({
    # Through the edge stand-in, over HTTPS as a visitor; the instance directly, with the headers the load balancer
    # passes on from CloudFront (the scheme the visitor used), as for a request the edge forwarded.
    'edge': {'ip': e['EDGE_IP'], 'host': e['SITE'], 'tls': True, 'cafile': e['CA_FILE'], 'headers': {}},
    'origin': {'ip': e['EDGE_ORIGIN_IP'], 'host': e['SITE'],
               'headers': {'X-Forwarded-Proto': 'http', 'CloudFront-Forwarded-Proto': 'https'}},
    'admin': e['EDGE_ADMIN'], 'password': e['EDGE_ADMIN_PASSWORD'], 'page_cache_seconds': int(e['EDGE_PAGE_CACHE_SECONDS']),
    'load_balancer_socket': e['LB_SOCKET'], 'invalidations': e['INVALIDATIONS'], 'distribution': e['DISTRIBUTION_ID'],
    'seconds': int(e.get('BENCH_SECONDS', '10')), 'setting': e['LAB_LATENCY'],
}, open(sys.argv[1], 'w'), indent=2)
PY
python3 "$ROOT/benchmarks/bench.py" measure-edge "$WORK/edge-config.json" "$WORK/edge.json"
site_teardown
trap - EXIT

# Synthesis last, on a machine the lab no longer loads. Python needs the wheel `npx projen bench` builds.
LANGUAGES=typescript,python SKIPPED=''
if ! compgen -G "$ROOT/dist/python/*.whl" >/dev/null; then
  LANGUAGES=typescript SKIPPED='Python (no wheel in dist/python: npx projen bench builds it)'
  lab_log "bench: $SKIPPED"
fi
RUNS=${RUNS:-3} python3 "$ROOT/benchmarks/consumer-synth.py" --languages "$LANGUAGES" --json "$WORK/synth.json"
[ -z "$SKIPPED" ] || python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); d["skipped"] = [sys.argv[2]]; json.dump(d, open(sys.argv[1], "w"), indent=2)' \
  "$WORK/synth.json" "$SKIPPED"
web=()
for setting in $BENCH_SETTINGS; do web+=("$WORK/web-$setting.json"); done
python3 "$ROOT/benchmarks/bench.py" report "$ROOT/benchmarks" "$WORK/edge.json" "$WORK/synth.json" "${web[@]}"
