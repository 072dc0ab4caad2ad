#!/bin/bash
# Smoke test of the boot lab: host setup, cached image, stand-in + DB + haproxy, two instances booted in
# parallel with a small TEST user data (not the real boot script), then assertions. Everything is torn
# down on exit (LAB_KEEP=1 keeps it running for inspection; tear down later with ./smoke.sh --down).
set -euo pipefail
cd "$(dirname "$0")"
. ./lab.sh

teardown() {
  inst_destroy_all; haproxy_stop; db_teardown; standin_stop; ebs_delete_all; net_down
}
if [ "${1:-}" = --down ]; then teardown; exit 0; fi

T_ALL=$SECONDS; T=$SECONDS
declare -a TIMES=()
phase() { TIMES+=("$(printf '%-34s %4ss' "$1" $((SECONDS - T)))"); lab_log "phase done: $1 ($((SECONDS - T))s)"; T=$SECONDS; }
FAILS=0; PASSES=0
check() { # check DESCRIPTION CMD...
  local what=$1; shift
  if "$@"; then PASSES=$((PASSES + 1)); echo "PASS: $what"; else FAILS=$((FAILS + 1)); echo "FAIL: $what"; fi
}
on_exit() {
  local rc=$?
  if [ "${LAB_KEEP:-0}" = 1 ]; then lab_log "LAB_KEEP=1: left running; './smoke.sh --down' tears down"
  else teardown >/dev/null 2>&1 || true; fi
  exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM

./setup-host.sh >/dev/null; phase "setup-host"
./image.sh; phase "image (build or cache)"

# ---- lab services ----
teardown >/dev/null 2>&1 || true      # leftovers of an interrupted run
rm -rf "$LAB_EFS_DIR"; mkdir -p "$LAB_EFS_DIR"
net_up
DB_PW='Lab-p4ss$with\quote'"'"'s'
SECRET_ARN="arn:aws:secretsmanager:$LAB_REGION:$LAB_ACCOUNT:secret:lab/db-AbC123"
standin_init
standin_add_secret "$SECRET_ARN" "$(python3 -c 'import json,sys; print(json.dumps({"username":"wordpress","password":sys.argv[1],"host":"writer.db.lab","port":3306}))' "$DB_PW")"
VOL=vol-0lab0000000000001
ebs_create "$VOL" 1
standin_start
db_start "$DB_PW" wordpress wordpress &
DBPID=$!
haproxy_start /health.html a=$LAB_SUBNET.11 b=$LAB_SUBNET.12
wait $DBPID || lab_die "db_start failed"
phase "net + stand-in + db + haproxy"

# ---- two instances in parallel ----
UD=$LAB_WORK/smoke-user-data.sh
cat >"$UD" <<USERDATA
#!/bin/bash
# lab smoke user data (NOT the real boot script)
set -euxo pipefail
SECRET_ARN='$SECRET_ARN'
USERDATA
cat >>"$UD" <<'USERDATA'
ts() { date +%s.%N; }
T0=$(ts)
TOKEN=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token)
md() { curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "http://169.254.169.254/latest/meta-data/$1"; }
IID=$(md instance-id); AZ=$(md placement/availability-zone); REGION=$(md placement/region)
ROLE=$(md iam/security-credentials/); md "iam/security-credentials/$ROLE" | grep -q '"Expiration"'
if curl -sf http://169.254.169.254/latest/meta-data/instance-id; then echo "IMDSv1 must be refused"; exit 1; fi
T1=$(ts)
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends nginx awscli mariadb-client e2fsprogs >/var/log/lab-apt.log 2>&1
T2=$(ts)
SECRET=$(aws secretsmanager get-secret-value --secret-id "$SECRET_ARN" --region lab-1 --query SecretString --output text)
PW=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["password"])' <<<"$SECRET")
T3=$(ts)
echo "ok $IID" >/var/www/html/health.html
echo "hello from $IID in $AZ ($REGION)" >/var/www/html/index.html
systemctl is-active nginx
MYSQL_PWD="$PW" mariadb --ssl-verify-server-cert -h writer.db.lab -u wordpress wordpress -e "
  CREATE TABLE IF NOT EXISTS boots (iid VARCHAR(32) PRIMARY KEY, at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
  INSERT INTO boots (iid) VALUES ('$IID');"
MYSQL_PWD="$PW" mariadb --ssl-verify-server-cert -h writer.db.lab -u wordpress -N -e "SHOW STATUS LIKE 'Ssl_version'" >/var/log/lab-tls.txt
T4=$(ts)
mkdir -p /mnt/efs
mount -t nfs4 -o nfsvers=4.1,tls fs-0lab.efs.lab-1.amazonaws.com:/ /mnt/efs
echo "$IID" >"/mnt/efs/from-$(hostname)"
T5=$(ts)
aws cloudformation signal-resource --stack-name lab-stack --logical-resource-id WebServerGroup \
  --unique-id "$IID" --status SUCCESS --region lab-1
T6=$(ts)
python3 - "$T0" "$T1" "$T2" "$T3" "$T4" "$T5" "$T6" >/var/log/lab-timings.txt <<'PY'
import sys
t = [float(x) for x in sys.argv[1:]]
for name, a, b in zip(["imds", "apt-get install nginx awscli mariadb-client e2fsprogs", "secretsmanager",
                       "nginx+mariadb(TLS)", "nfs4 shim mount", "cfn signal"], t, t[1:]):
    print("%-55s %5.1fs" % (name, b - a))
PY
USERDATA

inst_boot a $LAB_SUBNET.11 "$UD"
inst_boot b $LAB_SUBNET.12 "$UD"
phase "instances started (PID 1 up)"
rc_a=0; rc_b=0
inst_wait a 240 || rc_a=$?
inst_wait b 240 || rc_b=$?
phase "user data A+B (parallel)"
for n in a b; do echo "--- instance $n: user-data timings"; cat "$(inst_root $n)/var/log/lab-timings.txt" 2>/dev/null || tail -30 "$LAB_INST/$n/console.log"; done

# ---- assertions ----
IA=$(cat "$LAB_INST/a/instance-id"); IB=$(cat "$LAB_INST/b/instance-id")
check "cloud-init ok on A and B" test "$rc_a$rc_b" = 00
check "two SUCCESS signals recorded (A and B)" python3 - "$LAB_AWS/signals.jsonl" "$IA" "$IB" <<'PY'
import json, sys
sig = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = {s["UniqueId"] for s in sig if s["Status"] == "SUCCESS" and s["StackName"] == "lab-stack"}
sys.exit(0 if ok == set(sys.argv[2:]) else 1)
PY
check "haproxy sees A and B healthy" haproxy_wait_up 15 a b
_served() { local out; out=$(for _ in 1 2 3 4; do curl -s --max-time 3 "http://$LAB_HOST_IP/"; done | sort -u | wc -l); [ "$out" = 2 ]; }
check "roundrobin serves both instances" _served
check "https through haproxy (lab CA) + X-Forwarded-Proto" curl -sf --cacert "$LAB_PKI/ca.crt" --resolve "site.lab:443:$LAB_HOST_IP" https://site.lab/health.html -o /dev/null
check "EFS file from A visible in B" inst_exec b grep -qx "$IA" /mnt/efs/from-a
check "EFS is the shared host dir" test -s "$LAB_EFS_DIR/from-b"
check "DB TLS verified against the lab CA (Ssl_version set)" grep -q TLS "$(inst_root a)/var/log/lab-tls.txt"
check "both boots wrote to the writer" test "$(db_sql writer 'SELECT COUNT(*) FROM wordpress.boots')" = 2
db_sql writer "INSERT INTO wordpress.boots (iid) VALUES ('smoke-$$')"
db_wait_replica 10 >/dev/null || true
check "replication writer -> reader" test "$(db_sql reader "SELECT COUNT(*) FROM wordpress.boots WHERE iid='smoke-$$'")" = 1
s0=$(db_selects reader); db_sql reader "SELECT 1" >/dev/null; s1=$(db_selects reader)
check "Com_select counts SELECTs on the reader" test $((s1 - s0)) -ge 1
_no_plain() { ! MYSQL_PWD="$DB_PW" mariadb --no-defaults -h "$LAB_WRITER_IP" -u wordpress --skip-ssl -e 'SELECT 1' >/dev/null 2>&1; }
check "writer refuses unencrypted connections" _no_plain
_nf() { local o; o=$(inst_exec a aws secretsmanager get-secret-value --secret-id arn:nope --region lab-1 2>&1) || true; grep -q ResourceNotFoundException <<<"$o"; }
check "unknown secret -> ResourceNotFoundException" _nf
phase "assertions (web, efs, db)"

# ---- the AWS latency setting (latency.sh) on instance A: as set (local by default), on, off again ----
check "latency: A's round trips as its setting says (LAB_LATENCY=$LAB_LATENCY)" latency_check a
latency_add a "$LAB_SUBNET.11"
check "latency: A's round trips to the writer and the reader take the AWS setting's, to the host they do not" latency_check a
_tls_query() { inst_exec a env MYSQL_PWD="$DB_PW" mariadb --ssl-verify-server-cert -h writer.db.lab -u wordpress wordpress -N -e 'SELECT 1' | grep -qx 1; }
check "latency: a TLS query from A to the writer still answers" _tls_query
latency_del a
check "latency: removed, A's round trips are local again" latency_check a
check "latency: efsfs waits for EFS on an uncached name, counts it, and keeps www-data's ownership" efs_selftest
phase "latency (network, EFS)"

# ---- EBS: attach from A, IncorrectState from B, kill A, re-attach to B, data survives ----
_ebs_a() {
  inst_exec a sh -ec "aws ec2 attach-volume --volume-id $VOL --instance-id $IA --device /dev/sdf --region lab-1 >/dev/null
    aws ec2 wait volume-in-use --volume-ids $VOL --region lab-1
    d=/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol${VOL#vol-}
    for i in \$(seq 50); do [ -b \$d ] && break; sleep 0.1; done
    blkid \$d || mkfs.ext4 -q \$d; mkdir -p /mnt/ebs; mount \$d /mnt/ebs; echo $IA >/mnt/ebs/owner; sync"
}
check "EBS: A attaches, formats, mounts, writes" _ebs_a
_ebs_b_refused() { local o; o=$(inst_exec b aws ec2 attach-volume --volume-id "$VOL" --instance-id "$IB" --device /dev/sdf --region lab-1 2>&1) || true; grep -q IncorrectState <<<"$o"; }
check "EBS: attach from B while in-use -> IncorrectState" _ebs_b_refused
inst_kill a
_a_down() { haproxy_status | grep -q '^a DOWN'; }
check "killed A: haproxy marks it DOWN" lab_wait 10 "a DOWN" _a_down
_site_ok() { for _ in 1 2 3 4; do curl -sf --max-time 3 "http://$LAB_HOST_IP/" >/dev/null || return 1; done; }
check "site serves with A dead" _site_ok
_ebs_b() {
  inst_exec b sh -ec "aws ec2 attach-volume --volume-id $VOL --instance-id $IB --device /dev/sdf --region lab-1 >/dev/null
    d=/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol${VOL#vol-}
    for i in \$(seq 50); do [ -b \$d ] && break; sleep 0.1; done
    mkdir -p /mnt/ebs; mount \$d /mnt/ebs; grep -qx $IA /mnt/ebs/owner"
}
check "EBS: after A dies, B re-attaches and reads A's data" _ebs_b
phase "EBS + kill"

echo "--- timings"; printf '%s\n' "${TIMES[@]}"; echo "total                              $((SECONDS - T_ALL))s"
echo "--- stand-in requests: $(wc -l <"$LAB_AWS/requests.jsonl")  (log: $LAB_AWS/requests.jsonl)"
echo "smoke: $PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
