#!/bin/bash
# Lab instances: systemd-nspawn --boot of an overlay of the cached image, in its own netns,
# with a cloud-init NoCloud seed (instance-id + the given user data), /lab/efs bound from the host
# (LAB_LATENCY=aws: the EFS stand-in mounted over it, and the instance's packets to the database delayed: latency.sh).
# State: $LAB_WORK/inst/NAME/{upper,root,console.log,nspawn.pid,leader.pid,ip,instance-id}
# Source it, or: instance.sh boot NAME IP USER_DATA [--az AZ] [--id ID] [--bind HOST:CONT]... [--nice] |
#   wait NAME [SECONDS] | exec NAME CMD... | kill NAME | destroy NAME | destroy-all | list
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$LAB_DIR/net.sh"
. "$LAB_DIR/standin.sh"
LAB_INST=$LAB_WORK/inst
LAB_IMAGE=$LAB_WORK/image

inst_id_for() { echo "i-0$(echo -n "$1" | sha256sum | cut -c1-16)"; }
inst_leader() { cat "$LAB_INST/$1/leader.pid" 2>/dev/null; }
inst_root() { echo "$LAB_INST/$1/root"; }

# inst_boot NAME IP USER_DATA_FILE [--az AZ] [--id INSTANCE_ID] [--bind HOST:CONTAINER]... [--nice]
# (--nice: the whole instance at the lowest CPU and I/O priority, to keep it from slowing the others)
# Returns once PID 1 runs (boot continues in the background; use inst_wait).
inst_boot() {
  local n=$1 ip=$2 ud=$3; shift 3
  local az="${LAB_REGION}a" iid; iid=$(inst_id_for "$n")
  local -a extra=() nice=()
  while (($#)); do
    case $1 in
      --az) az=$2; shift 2 ;; --id) iid=$2; shift 2 ;;
      --bind) extra+=("--bind=$2"); shift 2 ;;
      --nice) nice=(nice -n 19 ionice -c 3); shift ;;
      *) lab_die "inst_boot: unknown option $1" ;;
    esac
  done
  [ -f "$LAB_IMAGE/.lab-image-key" ] || lab_die "no image: run image.sh"
  [ -r "$ud" ] || lab_die "user data $ud not readable"
  inst_destroy "$n"
  local d=$LAB_INST/$n
  mkdir -p "$d/upper" "$d/wd" "$d/root" "$LAB_EFS_DIR"
  # LAB_LATENCY=aws: the shared directory is served by the EFS stand-in (latency.sh), with EFS's latency
  if [ "$LAB_LATENCY" = aws ]; then efs_up || lab_die "the EFS stand-in did not mount over $LAB_EFS_DIR"; fi
  mount -t overlay "lab-$n" -o "lowerdir=$LAB_IMAGE,upperdir=$d/upper,workdir=$d/wd" "$d/root"
  local r=$d/root
  # cloud-init NoCloud seed
  mkdir -p "$r/var/lib/cloud/seed/nocloud"
  # The AWS CLI's endpoint for www-data too (the purge service runs as www-data; its HOME is /var/www)
  mkdir -p "$r/var/www/.aws" && cp "$LAB_IMAGE/root/.aws/config" "$r/var/www/.aws/config" && chown -R 33:33 "$r/var/www/.aws"
  printf 'instance-id: %s\nlocal-hostname: %s\n' "$iid" "$n" >"$r/var/lib/cloud/seed/nocloud/meta-data"
  cp "$ud" "$r/var/lib/cloud/seed/nocloud/user-data"
  # name resolution: lab names, and the Debian mirror pinned (the stand-in's DNS knows no name)
  {
    printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$n"
    printf '%s\t%s\n%s\t%s\n%s\t%s\n' "$LAB_WRITER_IP" "$LAB_WRITER_NAME" "$LAB_READER_IP" "$LAB_READER_NAME" \
      "$LAB_HOST_IP" "${LAB_SITE_NAME:-site.lab}"
    local mh mip; mh=$(echo "$LAB_MIRROR" | sed -E 's#^[a-z]+://([^/:]+).*#\1#')
    for mip in $(tr , ' ' <"$LAB_WORK/mirror-ips" 2>/dev/null); do printf '%s\t%s\n' "$mip" "$mh"; done
    [ -z "${LAB_EXTRA_HOSTS:-}" ] || printf '%s\n' "$LAB_EXTRA_HOSTS"
  } >"$r/etc/hosts"
  # lab speed knob (not in the image): dpkg without fsync, ~25% faster apt-get install. LAB_DPKG_UNSAFE_IO=0 turns it off.
  [ "${LAB_DPKG_UNSAFE_IO:-1}" = 0 ] || echo force-unsafe-io >"$r/etc/dpkg/dpkg.cfg.d/lab-unsafe-io"
  rm -f "$r/etc/resolv.conf"
  printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$LAB_HOST_IP" >"$r/etc/resolv.conf"
  echo "$ip" >"$d/ip"; echo "$iid" >"$d/instance-id"; echo "$az" >"$d/az"
  net_ns_add "$n" "$ip"
  [ -f "$LAB_AWS/config.json" ] && standin_add_instance "$ip" "$iid" "$az"
  setsid "${nice[@]}" systemd-nspawn --boot --register=no --keep-unit --quiet -D "$r" --machine="$n" \
    --network-namespace-path="/run/netns/lab-$n" --resolv-conf=off --timezone=off --link-journal=no \
    --console=read-only --setenv=SYSTEMD_COLORS=0 --bind="$LAB_EFS_DIR:/lab/efs" "${extra[@]}" \
    </dev/null >"$d/console.log" 2>&1 &
  local np=$!
  disown "$np" 2>/dev/null || true
  echo "$np" >"$d/nspawn.pid"
  local leader=""
  for _ in $(seq 100); do
    leader=$(pgrep -P "$np" 2>/dev/null | head -1) && [ -n "$leader" ] &&
      grep -q 'NSpid:.*[[:space:]]1$' "/proc/$leader/status" 2>/dev/null && break
    leader=""; lab_alive "$np" || break; sleep 0.05
  done
  [ -n "$leader" ] || { tail -20 "$d/console.log"; lab_die "instance $n did not start"; }
  echo "$leader" >"$d/leader.pid"
}

# inst_exec NAME CMD... : run a command inside the instance (all its namespaces, root, clean env)
inst_exec() {
  local n=$1; shift
  local l; l=$(inst_leader "$n") || lab_die "instance $n not running"
  nsenter -t "$l" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    TERM=dumb LANG=C.UTF-8 "$@"
}

# inst_wait NAME [SECONDS=300]: wait for cloud-init to finish; prints its result; 1 on error/timeout
inst_wait() {
  local n=$1 t=${2:-300} r; r=$(inst_root "$n")
  # (/var/lib/cloud/instance is an absolute symlink: resolve it inside the instance root)
  local bf; bf=$r/var/lib/cloud/instances/$(cat "$LAB_INST/$n/instance-id")/boot-finished
  lab_wait "$t" "cloud-init on $n" test -e "$bf" || return 1
  lab_wait 10 "result.json on $n" test -s "$r/var/lib/cloud/data/result.json"
  python3 - "$r/var/lib/cloud/data/result.json" "$n" <<'PY'
import json, sys
v1 = json.load(open(sys.argv[1]))["v1"]
errs = v1.get("errors", [])
print("%s: cloud-init %s%s" % (sys.argv[2], "ERRORS " if errs else "ok", "; ".join(errs)), file=sys.stderr)
sys.exit(1 if errs else 0)
PY
}

# inst_kill NAME: the instance dies hard (SIGKILL to its PID 1 = the whole PID namespace), its network
# goes away (veth down: connections time out as with a dead VM), its EBS volumes become available.
inst_kill() {
  local n=$1 d=$LAB_INST/$1 l np
  l=$(inst_leader "$n") || true
  [ -z "$l" ] || kill -9 "$l" 2>/dev/null || true
  np=$(cat "$d/nspawn.pid" 2>/dev/null) || true
  if [ -n "$np" ]; then
    for _ in $(seq 100); do lab_alive "$np" || break; sleep 0.05; done
    kill -9 "$np" 2>/dev/null || true
  fi
  rm -f "$d/leader.pid"
  net_ns_cut "$n"
  if [ -f "$d/instance-id" ] && [ -f "$LAB_AWS/config.json" ]; then standin_release "$(cat "$d/instance-id")" || true; fi
  return 0
}

# inst_destroy NAME: kill, unmount, delete netns and state (console log kept as work/inst/NAME.console.log)
inst_destroy() {
  local n=$1 d=$LAB_INST/$1
  [ -d "$d" ] || { net_ns_del "$n"; return 0; }
  inst_kill "$n" 2>/dev/null
  [ -f "$d/console.log" ] && cp "$d/console.log" "$LAB_INST/$n.console.log"
  if mountpoint -q "$d/root"; then umount "$d/root" 2>/dev/null || umount -l "$d/root"; fi
  net_ns_del "$n"
  rm -rf "$d" "/run/systemd/nspawn/propagate/$n" 2>/dev/null || true
}
inst_destroy_all() { # in parallel
  local d
  for d in "$LAB_INST"/*/; do [ -d "$d" ] && inst_destroy "$(basename "$d")" & done
  wait; return 0
}
inst_list() { local d; for d in "$LAB_INST"/*/; do [ -d "$d" ] && echo "$(basename "$d") $(cat "$d/ip") $(cat "$d/instance-id") $([ -f "$d/leader.pid" ] && echo running || echo dead)"; done; }

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cmd=${1:-}; shift || true
  case $cmd in
    boot) inst_boot "$@" ;; wait) inst_wait "$@" ;; exec) inst_exec "$@" ;; kill) inst_kill "$1" ;;
    destroy) inst_destroy "$1" ;; destroy-all) inst_destroy_all ;; list) inst_list ;;
    *) echo "usage: $0 boot NAME IP USER_DATA [--az AZ] [--id ID] [--bind H:C]|wait NAME [S]|exec NAME CMD...|kill NAME|destroy NAME|destroy-all|list" >&2; exit 2 ;;
  esac
fi
