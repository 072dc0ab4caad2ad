#!/bin/bash
# The benchmark: how fast an instance of the construct serves, against references run in the same run.
#
# In the boot lab (lab/README.md), it boots two instances from the same Debian 13 image:
# - ours: the user data of benchmarks/app.ts (Aurora with one reader, EFS, every default), unchanged;
# - stock: Debian's wordpress package with its defaults (Apache with mod_php), configured only as far as
#   Debian's README.Debian says, on the same database server (its own database, over TLS as ours).
# Then benchmarks/bench.py measures (wrk for throughput) and writes benchmarks/results.json and
# benchmarks/RESULTS.md; the synthesis figures come from benchmarks/consumer-synth.py.
#
# Root only, one lab per machine (it uses the lab's bridge and names). Run it with `npx projen bench`,
# which builds the Python wheel first. BENCH_SECONDS sets the length of each wrk run (default 10).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT/lab"
. ./lab.sh
. ./site.sh

OURS_IP=$LAB_SUBNET.31
STOCK_IP=$LAB_SUBNET.32
STOCK_SITE=stock.lab
WORK=$LAB_WORK/bench
# The stock site calls itself for wp-cron, as WordPress does by default: its name must resolve.
export LAB_EXTRA_HOSTS="$LAB_EXTRA_HOSTS
$STOCK_IP $STOCK_SITE"

trap 'site_teardown >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM

./setup-host.sh >/dev/null
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
./image.sh
rm -rf "$WORK" && mkdir -p "$WORK"
site_synth benchmarks/app.ts
site_teardown >/dev/null 2>&1 || true
rm -rf "$LAB_EFS_DIR" "$LAB_WORK/render" && mkdir -p "$LAB_EFS_DIR"
render BenchSite ours
O=$LAB_WORK/render/ours
net_up
standin_init
add_secrets "$O"
standin_start
truststore_start
DB_PASSWORD=$(site_secret "$O" WP_DB_SECRET_ARN password)
db_start "$DB_PASSWORD" wordpress wordpress
STOCK_DB_PASSWORD=$(openssl rand -hex 16)
STOCK_ADMIN_PASSWORD=$(openssl rand -hex 16)
db_sql writer "CREATE DATABASE stock; CREATE USER 'stock'@'%' IDENTIFIED BY '$STOCK_DB_PASSWORD' REQUIRE SSL;
  GRANT ALL PRIVILEGES ON stock.* TO 'stock'@'%'"

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

export OURS_IP STOCK_IP SITE STOCK_SITE STARTED HEALTHY STOCK_ADMIN_PASSWORD
OURS_ROOT=$(inst_root ours) OURS_LEADER=$(inst_leader ours) STOCK_ROOT=$(inst_root stock) STOCK_LEADER=$(inst_leader stock)
ADMIN=$(site_secret "$O" WP_ADMIN_SECRET_ARN username)
ADMIN_PASSWORD=$(site_secret "$O" WP_ADMIN_SECRET_ARN password)
PAGE_CACHE_SECONDS=$(user_data_value "$O" WP_PAGE_CACHE_SECONDS)
WRITER_SOCK=$(db_sock writer) READER_SOCK=$(db_sock reader)
export OURS_ROOT OURS_LEADER STOCK_ROOT STOCK_LEADER ADMIN ADMIN_PASSWORD PAGE_CACHE_SECONDS WRITER_SOCK READER_SOCK
python3 - "$WORK/config.json" <<'PY'
import json, os, sys
e = os.environ
json.dump({
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
python3 "$ROOT/benchmarks/bench.py" measure "$WORK/config.json" "$WORK/web.json"
site_teardown
trap - EXIT

# Synthesis last, on a machine the lab no longer loads.
RUNS=${RUNS:-3} python3 "$ROOT/benchmarks/consumer-synth.py" --languages typescript,python --json "$WORK/synth.json"
python3 "$ROOT/benchmarks/bench.py" report "$WORK/web.json" "$WORK/synth.json" "$ROOT/benchmarks"
