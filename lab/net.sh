#!/bin/bash
# Lab network: a bridge with the host side ($LAB_HOST_IP), the DB IPs and 169.254.169.254/32 (IMDS),
# one network namespace per instance (veth into the bridge, default route via the host),
# nftables NAT that lets instances reach ONLY the Debian mirror (tcp 80/443), ip_forward.
# With LAB_LATENCY=aws (latency.sh), each namespace's packets to the database and the cache wait their round trip.
# Source it and call the functions, or run: net.sh up|down|ns-add NAME IP|ns-del NAME
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$LAB_DIR/latency.sh"
LAB_NFT_TABLE=wplab

net_up() {
  if ! ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then
    ip link add "$LAB_BRIDGE" type bridge
    ip link set "$LAB_BRIDGE" type bridge stp_state 0 forward_delay 0 2>/dev/null || true
  fi
  local a
  for a in "$LAB_HOST_IP/24" "$LAB_WRITER_IP/32" "$LAB_READER_IP/32" "$LAB_IMDS_IP/32"; do
    ip addr replace "$a" dev "$LAB_BRIDGE"
  done
  ip link set "$LAB_BRIDGE" up
  [ -f "$LAB_WORK/ip_forward.saved" ] || cat /proc/sys/net/ipv4/ip_forward >"$LAB_WORK/ip_forward.saved"
  echo 1 >/proc/sys/net/ipv4/ip_forward
  # Only the Debian mirror is reachable from instances (resolved here, pinned in the instances' /etc/hosts).
  local mirror_host mirror_ips
  mirror_host=$(echo "$LAB_MIRROR" | sed -E 's#^[a-z]+://([^/:]+).*#\1#')
  mirror_ips=$(getent ahostsv4 "$mirror_host" | awk '{print $1}' | sort -u | paste -sd, -)
  [ -n "$mirror_ips" ] || lab_log "net: WARNING: cannot resolve $mirror_host; instances get no outside access"
  echo "$mirror_ips" >"$LAB_WORK/mirror-ips"
  local allow=""
  [ -z "$mirror_ips" ] || allow="iifname \"$LAB_BRIDGE\" ip daddr { $mirror_ips } tcp dport { 80, 443 } accept"
  nft delete table inet $LAB_NFT_TABLE 2>/dev/null || true
  nft -f - <<NFT
table inet $LAB_NFT_TABLE {
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "$LAB_BRIDGE" oifname "$LAB_BRIDGE" accept
    ct state established,related accept
    $allow
    iifname "$LAB_BRIDGE" counter drop
    oifname "$LAB_BRIDGE" counter drop
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    # Between the lab's own addresses on this machine (a visitor, the edge, the load balancer) the source stays:
    # the origin lock and the visitor's address depend on it.
    oifname "lo" accept
    ip saddr $LAB_SUBNET.0/24 oifname != "$LAB_BRIDGE" masquerade
  }
}
NFT
}

# net_ns_add NAME IP   -> netns "lab-NAME", eth0=IP/24 inside, host side veth "lv-NAME" on the bridge
net_ns_add() {
  local n=$1 ip=$2 ns=lab-$1 hv=lv-${1:0:12}
  net_ns_del "$n"
  ip netns add "$ns"
  ip link add "$hv" type veth peer name eth0 netns "$ns"
  ip link set "$hv" master "$LAB_BRIDGE" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$LAB_HOST_IP"
  if [ "$LAB_LATENCY" = aws ]; then latency_add "$n" "$ip" || lab_die "net: the AWS latency for $n did not apply"; fi
}
net_ns_del() {
  local ns=lab-$1 hv=lv-${1:0:12}
  latency_del "$1"
  ip link del "$hv" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}
# Make an instance unreachable (like a dead VM): its veth goes down.
net_ns_cut() { ip link set "lv-${1:0:12}" down 2>/dev/null || true; }

net_down() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^lab-/ {print $1}'); do net_ns_del "${ns#lab-}"; done
  nft delete table inet $LAB_NFT_TABLE 2>/dev/null || true
  latency_down
  ip link del "$LAB_BRIDGE" 2>/dev/null || true
  if [ -f "$LAB_WORK/ip_forward.saved" ]; then
    cat "$LAB_WORK/ip_forward.saved" >/proc/sys/net/ipv4/ip_forward; rm -f "$LAB_WORK/ip_forward.saved"
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case ${1:-} in
    up) net_up ;; down) net_down ;;
    ns-add) net_ns_add "$2" "$3" ;; ns-del) net_ns_del "$2" ;; cut) net_ns_cut "$2" ;;
    *) echo "usage: $0 up|down|ns-add NAME IP|ns-del NAME|cut NAME" >&2; exit 2 ;;
  esac
fi
