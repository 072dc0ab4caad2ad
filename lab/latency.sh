#!/bin/bash
# A lab network and media that behave like AWS: LAB_LATENCY=local (the default: the bridge and a host directory, as
# fast as this machine) or aws (the round trips and EFS latency below). lab/README.md cites where each default
# comes from. Sourced by net.sh: net_ns_add delays every instance's packets to the database and the object cache,
# and inst_boot mounts the EFS stand-in, when LAB_LATENCY=aws.
#   latency_build              compile netdelay and efsfs (lab/setup-host.sh does it)
#   latency_add NAME IP        NAME's packets to the writer, the reader and the cache wait their round trip
#   latency_del NAME           ... no longer
#   latency_rtt NAME IP        median TCP round trip (connection refused) from NAME's namespace to IP, in ms
#   latency_check NAME [JSON]  those round trips against what NAME should see; fails if one is off
#   latency_dropped            packets dropped from netdelay's queues so far (must stay 0)
#   efs_up / efs_down          the EFS stand-in (efsfs) over $LAB_EFS_DIR
#   efs_selftest               efsfs on a scratch directory: its latency, its counters, ownership; fails if one is off
#   latency_down               everything above removed (net_down calls it)
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LAB_LATENCY=${LAB_LATENCY:-local}
case $LAB_LATENCY in local | aws) ;; *) lab_die "LAB_LATENCY=$LAB_LATENCY: local or aws" ;; esac
# Round trips between EC2 instances, ms: in one Availability Zone, and between two.
LAB_RTT_SAME_AZ_MS=${LAB_RTT_SAME_AZ_MS:-0.1}
LAB_RTT_CROSS_AZ_MS=${LAB_RTT_CROSS_AZ_MS:-0.8}
# A fleet spread evenly over two AZs, each endpoint in one of them: half the instances reach it in their own AZ,
# half from the other. Every lab instance gets that mean (so that no instance's placement favours one page type).
_lat_mean=$(awk -v a="$LAB_RTT_SAME_AZ_MS" -v b="$LAB_RTT_CROSS_AZ_MS" 'BEGIN { printf "%g", (a + b) / 2 }')
LAB_RTT_WRITER_MS=${LAB_RTT_WRITER_MS:-$_lat_mean}
LAB_RTT_READER_MS=${LAB_RTT_READER_MS:-$_lat_mean}
LAB_RTT_CACHE_MS=${LAB_RTT_CACHE_MS:-$_lat_mean}
# EFS (Regional, General Purpose), ms per round trip: reads, lookups, opens and closes; and changes (create,
# remove, rename, set attributes, the write-back of a file when it is closed).
LAB_EFS_READ_MS=${LAB_EFS_READ_MS:-0.5}
LAB_EFS_WRITE_MS=${LAB_EFS_WRITE_MS:-2.7}
LAB_LAT=$LAB_WORK/latency
LAB_BIN=$LAB_WORK/bin
LAB_LAT_QUEUE_WRITER=231 LAB_LAT_QUEUE_READER=232 LAB_LAT_QUEUE_CACHE=233
# The object cache stand-in's address (lab/cache.sh), read when an instance is added.
_lat_cache_ip() { echo "${LAB_CACHE_IP:-$LAB_SUBNET.7}"; }
_lat_us() { awk -v ms="$1" 'BEGIN { printf "%d", ms * 1000 }'; }

_lat_cc() { # NAME PKG-CONFIG-NAME: lab/NAME.c -> $LAB_BIN/NAME, when the source is newer
  local src=$LAB_DIR/$1.c out=$LAB_BIN/$1
  [ "$out" -nt "$src" ] && return 0
  mkdir -p "$LAB_BIN"
  # shellcheck disable=SC2046
  gcc -O2 -Wall -Wextra -o "$out.tmp" "$src" $(pkg-config --cflags --libs "$2") -lpthread && mv "$out.tmp" "$out"
}
latency_build() { _lat_cc netdelay libnetfilter_queue && _lat_cc efsfs fuse3; }

_lat_ipt() { iptables -w -t mangle "$@"; }
_lat_running() { local p; p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && lab_alive "$p"; } # PIDFILE
_lat_bound() { awk -v q="$1" '$1 == q { found = 1 } END { exit !found }' /proc/net/netfilter/nfnetlink_queue 2>/dev/null; }
# netdelay holds the queued packets; one chain on the bridge's way in sends each instance's packets to its own chain.
latency_net_up() {
  mkdir -p "$LAB_LAT"
  if ! _lat_running "$LAB_LAT/netdelay.pid"; then
    [ -x "$LAB_BIN/netdelay" ] || latency_build || return 1
    setsid "$LAB_BIN/netdelay" "$LAB_LAT_QUEUE_WRITER:$(_lat_us "$LAB_RTT_WRITER_MS")" \
      "$LAB_LAT_QUEUE_READER:$(_lat_us "$LAB_RTT_READER_MS")" "$LAB_LAT_QUEUE_CACHE:$(_lat_us "$LAB_RTT_CACHE_MS")" \
      </dev/null >>"$LAB_LAT/netdelay.log" 2>&1 &
    echo $! >"$LAB_LAT/netdelay.pid"
    disown $! 2>/dev/null || true
    lab_wait 5 'netdelay to bind its queues' _lat_bound "$LAB_LAT_QUEUE_CACHE" || { tail -5 "$LAB_LAT/netdelay.log" >&2; return 1; }
  fi
  _lat_ipt -N LAB_LATENCY 2>/dev/null || true
  _lat_ipt -C PREROUTING -i "$LAB_BRIDGE" -j LAB_LATENCY 2>/dev/null || _lat_ipt -A PREROUTING -i "$LAB_BRIDGE" -j LAB_LATENCY
}

# latency_add NAME IP: the packets NAME sends to the writer, the reader and the cache wait their round trip
# (all of it on the way there; the answers come back at once), and nothing else of NAME's: not the load balancer's
# or the edge's traffic, not the AWS stand-in, not the Debian mirror.
latency_add() {
  local n=$1 ip=$2 c=LL-${1:0:12}
  latency_net_up || return 1
  latency_del "$n"
  _lat_ipt -N "$c" &&
    _lat_ipt -A "$c" -d "$LAB_WRITER_IP/32" -j NFQUEUE --queue-num "$LAB_LAT_QUEUE_WRITER" &&
    _lat_ipt -A "$c" -d "$LAB_READER_IP/32" -j NFQUEUE --queue-num "$LAB_LAT_QUEUE_READER" &&
    _lat_ipt -A "$c" -d "$(_lat_cache_ip)/32" -j NFQUEUE --queue-num "$LAB_LAT_QUEUE_CACHE" &&
    _lat_ipt -A LAB_LATENCY -s "$ip/32" -j "$c" || return 1
  echo "$ip" >"$LAB_LAT/$n.ip"
}
latency_del() {
  local n=$1 c=LL-${1:0:12} ip
  ip=$(cat "$LAB_LAT/$n.ip" 2>/dev/null) || return 0
  _lat_ipt -D LAB_LATENCY -s "$ip/32" -j "$c" 2>/dev/null || true
  _lat_ipt -F "$c" 2>/dev/null || true
  _lat_ipt -X "$c" 2>/dev/null || true
  rm -f "$LAB_LAT/$n.ip"
}
latency_delayed() { [ -f "$LAB_LAT/$1.ip" ]; }

# latency_dropped: the packets the kernel has dropped from netdelay's queues so far (a queue full, or netdelay gone)
latency_dropped() {
  awk -v w="$LAB_LAT_QUEUE_WRITER" -v r="$LAB_LAT_QUEUE_READER" -v c="$LAB_LAT_QUEUE_CACHE" \
    '$1 == w || $1 == r || $1 == c { n += $6 + $7 } END { print n + 0 }' /proc/net/netfilter/nfnetlink_queue 2>/dev/null || echo 0
}

# latency_rtt NAME IP [N=60]: median of N TCP connection attempts from NAME's namespace to IP port 9 (nothing
# listens there: the answer is a reset, one round trip), in ms
latency_rtt() {
  ip netns exec "lab-$1" python3 - "$2" "${3:-60}" <<'PY'
import socket, statistics, sys, time
times = []
for _ in range(int(sys.argv[2])):
    s = socket.socket()
    s.settimeout(1)
    start = time.perf_counter()
    try:
        s.connect((sys.argv[1], 9))
    except ConnectionRefusedError:
        pass
    except OSError as e:  # no answer at all: a dropped packet, not a round trip
        sys.exit(f'latency_rtt: {sys.argv[1]}: {e}')
    times.append(1000 * (time.perf_counter() - start))
    s.close()
print('%.3f' % statistics.median(times))
PY
}

# latency_check NAME [OUT.json]: NAME's round trips to the writer and the reader, less its round trip to the host
# (the load balancer's and the stand-ins' address, never delayed), against what NAME should see: its setting's
# round trip, or none. Within -10% -0.03 ms .. +0.2 ms: an idle machine wakes late from each wait (this VM's halt
# polling), which adds up to ~0.1 ms to a delayed round trip. The host's own round trip must stay under 0.3 ms.
latency_check() {
  local n=$1 out=${2:-} host writer reader ew=0 er=0
  host=$(latency_rtt "$n" "$LAB_HOST_IP") && writer=$(latency_rtt "$n" "$LAB_WRITER_IP") &&
    reader=$(latency_rtt "$n" "$LAB_READER_IP") || { lab_log "latency_check $n: no round trip measured"; return 1; }
  if latency_delayed "$n"; then ew=$LAB_RTT_WRITER_MS er=$LAB_RTT_READER_MS; fi
  python3 - "$n" "$host" "$writer" "$reader" "$ew" "$er" "$out" <<'PY'
import json, sys
name, host, writer, reader, ew, er, out = sys.argv[1], *map(float, sys.argv[2:7]), sys.argv[7]
added = {'writer': round(writer - host, 3), 'reader': round(reader - host, 3)}
expected = {'writer': ew, 'reader': er}
bad = [f'{k} +{added[k]} ms, expected +{expected[k]} ms' for k in added
       if not expected[k] * 0.9 - 0.03 <= added[k] <= expected[k] + 0.2]
if host >= 0.3:
    bad.append(f'the host (load balancer) path takes {host} ms: it must not be delayed')
print(f'latency {name}: round trip to the host {host} ms; added to the writer\'s {added["writer"]} ms (expected '
      f'{ew}), to the reader\'s {added["reader"]} ms (expected {er})' + (': ' + '; '.join(bad) if bad else ''), file=sys.stderr)
if out:
    json.dump({'host_ms': host, 'writer_ms': writer, 'reader_ms': reader, 'added_ms': added, 'expected_ms': expected,
               'ok': not bad}, open(out, 'w'), indent=2)
sys.exit(1 if bad else 0)
PY
}

# ---- EFS: efsfs over the shared directory ----
_efs_mounted() { [ "$(findmnt -n -o FSTYPE --mountpoint "${1:-$LAB_EFS_DIR}" 2>/dev/null)" = fuse.efsfs ]; }
# _efs_start DIR STATS PIDFILE: efsfs over DIR with the setting's latency
_efs_start() {
  [ -x "$LAB_BIN/efsfs" ] || latency_build || return 1
  mkdir -p "$1" "$LAB_LAT"
  setsid "$LAB_BIN/efsfs" "$1" --stats "$2" --read-us "$(_lat_us "$LAB_EFS_READ_MS")" \
    --write-us "$(_lat_us "$LAB_EFS_WRITE_MS")" </dev/null >>"$LAB_LAT/efsfs.log" 2>&1 &
  echo $! >"$3"
  disown $! 2>/dev/null || true
  lab_wait 5 "efsfs over $1" _efs_mounted "$1" || { tail -5 "$LAB_LAT/efsfs.log" >&2; return 1; }
}
_efs_stop() { # DIR PIDFILE
  if _efs_mounted "$1"; then umount "$1" 2>/dev/null || umount -l "$1"; fi
  [ ! -f "$2" ] || lab_stop_pid "$(cat "$2")"
  rm -f "$2"
}
efs_up() { _efs_mounted || _efs_start "$LAB_EFS_DIR" "$LAB_LAT/efs.stats" "$LAB_LAT/efsfs.pid"; }
efs_down() { _efs_stop "$LAB_EFS_DIR" "$LAB_LAT/efsfs.pid"; }
# efs_stats [FILE]: the counters, one line per operation: NAME CALLS WAITS WAITED_MS
efs_stats() {
  python3 - "${1:-$LAB_LAT/efs.stats}" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
assert data[:7] == b'LABEFS1', 'not an efsfs stats file'
count = struct.unpack_from('<Q', data, 8)[0]
for i in range(count):
    name, calls, waits, ns = struct.unpack_from('<16s3Q', data, 32 + 40 * i)
    print(name.rstrip(b'\0').decode(), calls, waits, round(ns / 1e6, 3))
PY
}

# efs_selftest: efsfs over a scratch directory proves its three promises: a name the kernel has not cached costs
# one round trip of LAB_EFS_READ_MS (median of 100, within -10% .. +0.2 ms) and one counted lookup each, a name it has
# cached costs none (under 0.05 ms), and what www-data creates belongs to www-data.
efs_selftest() {
  local d=$LAB_LAT/selftest rc=0
  _efs_stop "$d" "$LAB_LAT/selftest.pid"
  rm -rf "$d" && mkdir -p "$d/www" && chown 33:33 "$d/www" && echo hello >"$d/file" || return 1
  _efs_start "$d" "$LAB_LAT/selftest.stats" "$LAB_LAT/selftest.pid" || return 1
  python3 - "$d" "$LAB_LAT/selftest.stats" "$LAB_EFS_READ_MS" <<'PY' || rc=1
import os, statistics, struct, sys, time
d, stats, expected = sys.argv[1], sys.argv[2], float(sys.argv[3])
def counters():
    data = open(stats, 'rb').read()
    return {struct.unpack_from('<16s', data, 32 + 40 * i)[0].rstrip(b'\0').decode(): struct.unpack_from('<Q', data, 48 + 40 * i)[0]
            for i in range(struct.unpack_from('<Q', data, 8)[0])}
def median_ms(f, n=100):
    times = []
    for i in range(n):
        start = time.perf_counter()
        f(i)
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)
def missing(i):
    try:
        os.stat(f'{d}/missing-{i}')
    except FileNotFoundError:
        pass
before = counters()
uncached = median_ms(missing)
after = counters()
os.stat(f'{d}/file')
cached = median_ms(lambda i: os.stat(f'{d}/file'))
bad = []
if not expected * 0.9 <= uncached <= expected + 0.2:
    bad.append(f'an uncached name took {uncached:.3f} ms, expected {expected} ms')
if after['lookup_miss'] - before['lookup_miss'] != 100:
    bad.append(f'100 uncached names counted {after["lookup_miss"] - before["lookup_miss"]} lookups')
if cached >= 0.05:
    bad.append(f'a cached name took {cached:.3f} ms')
print(f'efsfs: uncached name {uncached:.3f} ms (expected {expected}), cached {cached:.4f} ms'
      + (': ' + '; '.join(bad) if bad else ''), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
  if [ "$rc" = 0 ]; then
    # (www-data's shell is nologin; setpriv runs the command as uid 33 directly)
    setpriv --reuid=33 --regid=33 --clear-groups sh -c "echo x >'$d/www/made' && mkdir '$d/www/dir'" &&
      [ "$(stat -c %u:%g "$d/www/made" "$d/www/dir" | sort -u)" = 33:33 ] &&
      ! setpriv --reuid=33 --regid=33 --clear-groups sh -c "echo x >'$d/not-www'" 2>/dev/null ||
      { lab_log 'efsfs: www-data could not create its own files, or created one where it may not'; rc=1; }
  fi
  _efs_stop "$d" "$LAB_LAT/selftest.pid"
  rm -rf "$d"
  return $rc
}

latency_down() {
  efs_down
  _efs_stop "$LAB_LAT/selftest" "$LAB_LAT/selftest.pid"
  local c
  if command -v iptables >/dev/null; then
    _lat_ipt -D PREROUTING -i "$LAB_BRIDGE" -j LAB_LATENCY 2>/dev/null || true
    local chains; chains=$(_lat_ipt -S 2>/dev/null | awk '$1 == "-N" && ($2 == "LAB_LATENCY" || $2 ~ /^LL-/) { print $2 }')
    for c in $chains; do _lat_ipt -F "$c"; done
    for c in $chains; do _lat_ipt -X "$c" 2>/dev/null || true; done
  fi
  rm -f "$LAB_LAT"/*.ip
  [ ! -f "$LAB_LAT/netdelay.pid" ] || lab_stop_pid "$(cat "$LAB_LAT/netdelay.pid")"
  rm -f "$LAB_LAT/netdelay.pid"
}
