#!/bin/bash
# cdk-scalable-wordpress: boots a Debian 13 instance into the site's WordPress.
#
# Run by cloud-init from the user data, which writes the site's inputs to /etc/scalable-wordpress/site.env
# and unpacks this directory. Safe to run again: every step checks before it changes anything.
# It signals CloudFormation SUCCESS once WordPress serves, and FAILURE on any error, so a broken boot
# fails the deploy instead of leaving a half-working instance in service.
#
# Secrets are read into shell variables and handed to PHP on stdin: never on a command line, in a
# file other than /etc/wordpress/config-default.php (0640 root:www-data), or in the log. Do not add `set -x`.
set -Eeuo pipefail
umask 022

readonly HERE=/usr/local/lib/scalable-wordpress
readonly WP_CONTENT=/var/lib/wordpress/wp-content
readonly SEED=$HERE/wp-content-seed
readonly PHP_VERSION=8.4
export DEBIAN_FRONTEND=noninteractive
# The AWS CLI gets the instance role's credentials from IMDS, by default with one attempt of 1 s: a slow
# answer fails the call with "Unable to locate credentials" (the boot lab saw it fail a SUCCESS signal).
export AWS_METADATA_SERVICE_TIMEOUT=5 AWS_METADATA_SERVICE_NUM_ATTEMPTS=3

# shellcheck source=/dev/null
source /etc/scalable-wordpress/site.env

# Every line says how many seconds the boot has taken so far: the boot benchmark reads its phases from them.
step() { echo "scalable-wordpress: [$SECONDS s] $*"; }
step "boot script started at $(date +%s.%N)"

imds() {
  local token
  token=$(curl -fsS --retry 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token)
  curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}

signal() {
  # A second boot of a running instance signals a resource that is complete already; CloudFormation
  # refuses that, and the refusal must not fail the boot.
  aws cloudformation signal-resource --region "$WP_REGION" --stack-name "$WP_STACK_NAME" \
    --logical-resource-id "$WP_SIGNAL_RESOURCE" --unique-id "$INSTANCE_ID" --status "$1" \
    || step "could not signal $1 to CloudFormation (the stack may be complete already)"
}

on_error() {
  local status=$? line=$1
  # In a subshell, such as $(secret ...), only exit: the script itself fails next and reports once.
  [ "$BASHPID" = $$ ] || exit "$status"
  local failed="FAILED at line $line (exit $status) during: ${CURRENT_STEP:-start}"
  trap - ERR
  step "$failed"
  # Also on the instance's console, which EC2 keeps: `aws ec2 get-console-output --latest --instance-id ID`
  # shows why a boot failed without SSH or SSM, even where cloud-init's own output does not reach the console.
  echo "scalable-wordpress: boot $failed" 2>/dev/null >/dev/console || true
  [ -n "${INSTANCE_ID:-}" ] || INSTANCE_ID=$(imds instance-id || echo unknown)
  # The log shipper reads the boot log every 5 s: give it one more round to send this reason.
  ! systemctl is-active -q scalable-wordpress-logs.service 2>/dev/null || sleep 6
  signal FAILURE
  exit "$status"
}
trap 'on_error $LINENO' ERR

at() { CURRENT_STEP=$*; step "$*"; }

# run_service NAME USER DESCRIPTION ENVIRONMENT COMMAND: a service of the site (scalable-wordpress-NAME), started now
# and at every boot, restarted 5 s after it stops
run_service() {
  cat > "/etc/systemd/system/scalable-wordpress-$1.service" <<EOF
[Unit]
Description=$3
[Service]
User=$2
Environment=$4
ExecStart=$5
Restart=always
RestartSec=5
[Install]
WantedBy=multi-user.target
EOF
  systemctl daemon-reload
  systemctl enable "scalable-wordpress-$1.service"
  systemctl restart "scalable-wordpress-$1.service"
}

at 'reading instance metadata'
INSTANCE_ID=$(imds instance-id)

at 'installing packages'
# Every apt-get retries each download (Acquire::Retries) and waits for the dpkg lock (DPkg::Lock::Timeout),
# which unattended-upgrades may hold on a first boot. The lock wait does not cover apt-get update's lock on
# the package lists, and a mirror can fail for longer than the download retries: the install as a whole is
# retried too.
apt_get() { apt-get -q -o Acquire::Retries=5 -o DPkg::Lock::Timeout=300 "$@"; }
install_packages() {
  local attempt
  for attempt in 1 2 3 4; do
    # The web server and PHP-FPM first, so that Debian's wordpress package finds its web server and PHP
    # already there instead of pulling in Apache. php8.4 satisfies wordpress's "libapache2-mod-php | php"
    # without Apache; the theme gives a fresh site a look.
    apt_get update && apt_get install -y --no-install-recommends -o Dpkg::Options::=--force-confold \
      nginx "php$PHP_VERSION-fpm" "php$PHP_VERSION-mysql" "php$PHP_VERSION-curl" "php$PHP_VERSION-gd" \
      "php$PHP_VERSION-intl" "php$PHP_VERSION-mbstring" "php$PHP_VERSION-xml" "php$PHP_VERSION-zip" \
      "php$PHP_VERSION-opcache" "php$PHP_VERSION-redis" awscli python3-boto3 ca-certificates curl e2fsprogs stunnel4 nfs-common \
      && apt_get install -y --no-install-recommends -o Dpkg::Options::=--force-confold \
      "php$PHP_VERSION" wordpress wordpress-theme-twentytwentyfive \
      && return 0
    step "installing packages failed (attempt $attempt of 4)"
    [ "$attempt" -lt 4 ] || return 1
    sleep $((attempt * 15))
  done
}
install_packages

# Early, so that a boot that fails from here on leaves its reason in CloudWatch Logs (ship-logs.py's docstring).
at 'shipping logs to CloudWatch Logs'
install -d /var/lib/scalable-wordpress /var/log/php-fpm
install -d -o www-data -g www-data /var/log/wordpress
cat > /etc/logrotate.d/scalable-wordpress <<'EOF'
/var/log/php-fpm/slow.log /var/log/wordpress/php-errors.log {
  weekly
  rotate 4
  missingok
  notifempty
  compress
  copytruncate
}
EOF
if [ -n "$WP_LOG_GROUPS" ]; then
  run_service logs root "Ship this instance's logs to CloudWatch Logs" \
    "\"WP_LOG_GROUPS=$WP_LOG_GROUPS\" INSTANCE_ID=$INSTANCE_ID AWS_DEFAULT_REGION=$WP_REGION" "/usr/bin/python3 $HERE/ship-logs.py"
fi

at 'trusting the database CA'
curl -fsS --retry 5 "$WP_DB_CA_BUNDLE_URL" -o "$HERE/db-ca-bundle.pem"
install -d /usr/local/share/ca-certificates/scalable-wordpress
rm -f /usr/local/share/ca-certificates/scalable-wordpress/*.crt
# update-ca-certificates wants one certificate per file.
awk -v dir=/usr/local/share/ca-certificates/scalable-wordpress \
  '/BEGIN CERTIFICATE/ { n++ } n { print > sprintf("%s/db-ca-%03d.crt", dir, n) }' "$HERE/db-ca-bundle.pem"
update-ca-certificates >/dev/null

at 'keeping a copy of the packaged wp-content to seed new media'
if [ ! -d "$SEED" ] && ! mountpoint -q "$WP_CONTENT"; then
  cp -a "$WP_CONTENT" "$SEED"
fi

# mount_media FSTAB_ENTRY MOUNT_ARGS...: the media in /etc/fstab for later boots, and mounted now.
mount_media() {
  local entry=$1; shift
  sed -i "\\# $WP_CONTENT #d" /etc/fstab
  echo "$entry" >> /etc/fstab
  systemctl daemon-reload
  mountpoint -q "$WP_CONTENT" || mount "$@" "$WP_CONTENT"
}

mount_efs() {
  at "mounting EFS $WP_EFS_ID over TLS"
  # amazon-efs-utils is not packaged for Debian: stunnel4 is, and the tunnel is what efs-utils builds too.
  cat > /etc/scalable-wordpress/efs-tunnel.conf <<EOF
foreground = yes
pid =
[efs]
client = yes
accept = 127.0.0.1:20049
connect = $WP_EFS_DNS_NAME:2049
delay = yes
sslVersionMin = TLSv1.2
verifyChain = yes
CAfile = /etc/ssl/certs/ca-certificates.crt
checkHost = $WP_EFS_DNS_NAME
TIMEOUTclose = 0
TIMEOUTidle = 43200
EOF
  cat > /etc/systemd/system/scalable-wordpress-efs-tunnel.service <<'EOF'
[Unit]
Description=TLS tunnel to the site's EFS file system
Before=remote-fs-pre.target
Wants=network-online.target
After=network-online.target
[Service]
ExecStart=/usr/bin/stunnel4 /etc/scalable-wordpress/efs-tunnel.conf
Restart=always
[Install]
WantedBy=multi-user.target
EOF
  systemctl daemon-reload
  systemctl enable --now scalable-wordpress-efs-tunnel.service
  local options=nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,port=20049,_netdev
  mount_media "127.0.0.1:/ $WP_CONTENT nfs4 $options,x-systemd.requires=scalable-wordpress-efs-tunnel.service 0 0" \
    -t nfs4 -o "$options" 127.0.0.1:/
}

ebs_device() {
  local serial=${WP_EBS_VOLUME_ID//-/}
  for dev in "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial" /dev/xvdf /dev/sdf; do
    [ -b "$dev" ] && { echo "$dev"; return 0; }
  done
  return 1
}

mount_ebs() {
  at "attaching EBS volume $WP_EBS_VOLUME_ID"
  local state attached_to
  for _ in $(seq 1 90); do
    read -r state attached_to < <(aws ec2 describe-volumes --region "$WP_REGION" --volume-ids "$WP_EBS_VOLUME_ID" \
      --query 'Volumes[0].[State, Attachments[0].InstanceId]' --output text)
    [ "$attached_to" = "$INSTANCE_ID" ] && break
    if [ "$state" = available ]; then
      # Attached: the volume names this instance at once, so look again without waiting.
      aws ec2 attach-volume --region "$WP_REGION" --volume-id "$WP_EBS_VOLUME_ID" --instance-id "$INSTANCE_ID" --device /dev/sdf >/dev/null \
        && continue
      step 'attach refused; retrying'
    else
      step "volume is $state, attached to $attached_to: waiting for the old instance to let go"
    fi
    sleep 10
  done
  [ "$attached_to" = "$INSTANCE_ID" ]
  local device
  for _ in $(seq 1 60); do device=$(ebs_device) && break; sleep 2; done
  [ -n "${device:-}" ]
  # Format only a volume that holds no file system: a replacement instance must find the old uploads.
  if ! blkid "$device" >/dev/null 2>&1; then
    at "formatting the new volume $device"
    mkfs.ext4 -q -L wp-content "$device"
  fi
  local uuid
  uuid=$(blkid -s UUID -o value "$device")
  mount_media "UUID=$uuid $WP_CONTENT ext4 defaults,nofail 0 2" -t ext4 "$device"
}

case "$WP_MEDIA" in
  efs) mount_efs ;;
  ebs) mount_ebs ;;
  *) step "unknown media '$WP_MEDIA'"; false ;;
esac

# restore_media: a site built from a media recovery point (WordPressMedia.efs({ fromRecoveryPoint })) fills its
# file system once, before anything else writes to it. It runs under the media lock (below): the first instance
# starts AWS Backup's restore job, the others find the job it recorded, or the marker it left. AWS Backup never
# overwrites a file system: it restores into aws-backup-restore_DATETIME at the root
# (https://docs.aws.amazon.com/aws-backup/latest/devguide/restoring-efs.html), whose files are moved into place.
restore_media() {
  local marker="$WP_CONTENT/.scalable-wordpress-restored" job_file="$WP_CONTENT/.scalable-wordpress-restore-job" job status
  [ ! -e "$marker" ] || return 0
  at "restoring the media from $WP_MEDIA_RECOVERY_POINT"
  if [ -s "$job_file" ]; then
    job=$(cat "$job_file")
  else
    job=$(aws backup start-restore-job --region "$WP_REGION" --recovery-point-arn "$WP_MEDIA_RECOVERY_POINT" \
      --iam-role-arn "$WP_MEDIA_RESTORE_ROLE_ARN" --resource-type EFS \
      --metadata "file-system-id=$WP_EFS_ID,newFileSystem=false,Encrypted=true,PerformanceMode=generalPurpose" \
      --query RestoreJobId --output text)
    echo "$job" >"$job_file"
  fi
  # A boot that times out leaves the job recorded: the next instance waits for the same job.
  while status=$(aws backup describe-restore-job --region "$WP_REGION" --restore-job-id "$job" --query Status --output text); do
    case "$status" in
      COMPLETED) break ;;
      ABORTED|FAILED) rm -f "$job_file"; step "restore job $job ended $status"; false ;;
    esac
    step "restore job $job is $status"
    sleep 2
  done
  [ "$status" = COMPLETED ]
  local restored
  restored=$(find "$WP_CONTENT" -mindepth 1 -maxdepth 1 -type d -name 'aws-backup-restore_*' | sort | tail -n 1)
  [ -n "$restored" ] || { step "restore job $job completed, but no aws-backup-restore_* directory is in wp-content"; false; }
  cp -a "$restored/." "$WP_CONTENT/"
  rm -rf "$restored" "$job_file"
  touch "$marker"
  step "media restored from $WP_MEDIA_RECOVERY_POINT (job $job)"
}

at 'preparing wp-content'
# One instance at a time (NFSv4 locks work on EFS): instances that boot together would race to create the
# same directories, and the second would fail with "File exists".
exec {media_lock}>"$WP_CONTENT/.scalable-wordpress.lock"
flock "$media_lock"
[ -z "${WP_MEDIA_RECOVERY_POINT:-}" ] || restore_media
# Only now, on the mounted media, are ownership and seed files set: doing it before the mount would
# change the hidden directory underneath and leave the media unwritable.
cp -a --update=none "$SEED/." "$WP_CONTENT/"
install -d -o www-data -g www-data "$WP_CONTENT/uploads" "$WP_CONTENT/upgrade"
chown www-data:www-data "$WP_CONTENT" "$WP_CONTENT/plugins" "$WP_CONTENT/themes" "$WP_CONTENT/uploads"
# The purge mu-plugin records what changed (purge.php; its service below purges the caches).
install -d -o www-data -g www-data "$WP_CONTENT/mu-plugins"
install -m 0644 "$HERE/purge.php" "$WP_CONTENT/mu-plugins/scalable-wordpress-purge.php"
# The mail mu-plugin hands WordPress's mail to SES (mail.php; its service below sends it), when the site has an address.
if [ -n "$WP_MAIL_FROM" ]; then
  install -m 0644 "$HERE/mail.php" "$WP_CONTENT/mu-plugins/scalable-wordpress-mail.php"
else
  rm -f "$WP_CONTENT/mu-plugins/scalable-wordpress-mail.php"
fi
if [ "$WP_DB_ENGINE" = aurora-mysql ]; then
  install -m 0644 "$HERE/db.php" "$WP_CONTENT/db.php"
else
  rm -f "$WP_CONTENT/db.php"
fi
# The object cache drop-in (object-cache.php), when the site has a cache. wp-content is shared: while the instances
# roll, an instance booted before the cache existed loads the drop-in without its configuration, and the drop-in then
# treats every change it makes as made while the cache was down, so that no stale object survives the roll.
if [ -n "$WP_CACHE_HOST" ]; then
  install -m 0644 "$HERE/object-cache.php" "$WP_CONTENT/object-cache.php"
else
  rm -f "$WP_CONTENT/object-cache.php"
fi
flock -u "$media_lock"

at 'reading secrets'
secret() {
  aws secretsmanager get-secret-value --region "$WP_REGION" --secret-id "$1" --query SecretString --output text
}
db_secret=$(secret "$WP_DB_SECRET_ARN")
salts=$(secret "$WP_SALTS_SECRET_ARN")
admin_secret=$(secret "$WP_ADMIN_SECRET_ARN")
cache_secret=
[ -z "$WP_CACHE_HOST" ] || cache_secret=$(secret "$WP_CACHE_SECRET_ARN")

at "verifying the database's TLS certificate"
# Before anything uses the database: its certificate must chain to a trusted CA (the RDS bundle above) and
# name the endpoint. A failure names the host and the TLS reason here, not as a broken site later.
export WP_SITE_URL WP_SITE_TITLE WP_DB_WRITER_HOST WP_DB_READER_HOST WP_DB_PORT WP_DB_NAME WP_DB_ENGINE WP_CONTENT WP_COOKIE_HASH WP_MAIL_FROM \
  WP_CACHE_HOST WP_CACHE_PORT
printf '%s' "$db_secret" | php "$HERE/verify-db-tls.php"

at 'writing the WordPress configuration'
printf '%s\0%s\0%s' "$db_secret" "$salts" "$cache_secret" | php "$HERE/write-config.php" /etc/wordpress/config-default.php
unset db_secret salts cache_secret

at 'configuring PHP-FPM and nginx'
min() { echo $(( $1 < $2 ? $1 : $2 )); }
memory_mib=$(( $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024 ))
cpus=$(nproc)
# Each PHP worker takes about 80 MiB with WordPress; keep 768 MiB for the system, nginx and OPcache,
# and no more than 16 workers per CPU, past which more workers only queue for the CPU.
workers=$(( (memory_mib - 768) / 80 ))
[ "$workers" -le $((cpus * 16)) ] || workers=$((cpus * 16))
[ "$workers" -ge 4 ] || workers=4
cat > "/etc/php/$PHP_VERSION/fpm/pool.d/www.conf" <<EOF
; Written by cdk-scalable-wordpress from this instance's memory ($memory_mib MiB) and CPUs ($cpus).
[www]
user = www-data
group = www-data
listen = /run/php/php$PHP_VERSION-fpm.sock
listen.owner = www-data
listen.group = www-data
pm = dynamic
pm.max_children = $workers
pm.start_servers = $(min $((cpus * 2)) "$workers")
pm.min_spare_servers = $(min "$cpus" "$workers")
pm.max_spare_servers = $(min $((cpus * 4)) "$workers")
pm.max_requests = 1000
; Requests slower than 5 s, with their PHP stack; PHP's errors from WordPress and its plugins. Both are shipped to
; CloudWatch Logs (ship-logs.py) and rotated by /etc/logrotate.d/scalable-wordpress.
slowlog = /var/log/php-fpm/slow.log
request_slowlog_timeout = 5s
php_admin_value[error_log] = /var/log/wordpress/php-errors.log
php_admin_flag[log_errors] = on
EOF
install -m 0644 "$HERE/php.ini" "/etc/php/$PHP_VERSION/fpm/conf.d/90-scalable-wordpress.ini"
install -m 0644 "$HERE/php.ini" "/etc/php/$PHP_VERSION/cli/conf.d/90-scalable-wordpress.ini"
if [ "$WP_PAGE_CACHE_SECONDS" -gt 0 ]; then
  page_cache=wordpress page_cache_seconds=$WP_PAGE_CACHE_SECONDS
else
  # fastcgi_cache_valid still needs a valid time while the cache is off.
  page_cache=off page_cache_seconds=1
fi
install -d -o www-data -g www-data -m 0700 /var/cache/nginx/wordpress
sed -e "s#@EDGE@#$WP_EDGE#g" -e "s#@PHP_SOCKET@#/run/php/php$PHP_VERSION-fpm.sock#g" -e "s#@PAGE_CACHE@#$page_cache#g" \
  -e "s#@PAGE_CACHE_SECONDS@#$page_cache_seconds#g" "$HERE/nginx-site.conf" > /etc/nginx/sites-available/scalable-wordpress
ln -sfn /etc/nginx/sites-available/scalable-wordpress /etc/nginx/sites-enabled/default
nginx -t -q
systemctl enable "php$PHP_VERSION-fpm" nginx
systemctl restart "php$PHP_VERSION-fpm" nginx

at 'installing WordPress (once for the whole fleet)'
printf '%s' "$admin_secret" | runuser -u www-data -- php "$HERE/install.php"
unset admin_secret

at 'scheduling wp-cron'
cat > /etc/systemd/system/scalable-wordpress-cron.service <<EOF
[Unit]
Description=WordPress scheduled events (one instance at a time, fleet-wide)
[Service]
Type=oneshot
User=www-data
Environment=WP_SITE_URL=$WP_SITE_URL
ExecStart=/usr/bin/php $HERE/cron.php
EOF
cat > /etc/systemd/system/scalable-wordpress-cron.timer <<'EOF'
[Unit]
Description=Run WordPress scheduled events every minute
[Timer]
OnBootSec=2min
OnUnitActiveSec=1min
[Install]
WantedBy=timers.target
EOF
systemctl daemon-reload
systemctl enable --now scalable-wordpress-cron.timer

at 'purging changed pages (this instance, and CloudFront)'
install -d -o www-data -g www-data /var/lib/scalable-wordpress
run_service purge www-data 'Purge changed pages from the page cache and CloudFront' \
  "WP_DISTRIBUTION_ID=$WP_DISTRIBUTION_ID" "/usr/bin/php $HERE/purge.php serve"

if [ -n "$WP_MAIL_FROM" ]; then
  at 'sending mail through Amazon SES'
  install -d -m 0700 -o www-data -g www-data /var/spool/scalable-wordpress-mail
  run_service mail www-data "Send WordPress's mail through Amazon SES" \
    "WP_MAIL_FROM=$WP_MAIL_FROM AWS_DEFAULT_REGION=$WP_REGION" "/usr/bin/php $HERE/mail.php serve"
fi

at 'checking that WordPress serves'
host=$(php -r 'echo parse_url(getenv("WP_SITE_URL"), PHP_URL_HOST);')
for _ in $(seq 1 30); do
  if curl -fsS -o /dev/null "http://127.0.0.1$WP_HEALTH_CHECK_PATH" \
     && curl -fsS -o /dev/null -H "Host: $host" -H "X-Forwarded-Proto: ${WP_SITE_URL%%:*}" -H "CloudFront-Forwarded-Proto: ${WP_SITE_URL%%:*}" http://127.0.0.1/; then
    served=yes; break
  fi
  sleep 2
done
[ "${served:-}" = yes ]

CURRENT_STEP='signalling success'
step "WordPress serves; boot took $SECONDS s"
signal SUCCESS
