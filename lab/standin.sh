#!/bin/bash
# Run the AWS stand-in (aws_standin.py) for the lab and edit its config.
# Config: $LAB_AWS/config.json; logs: requests.jsonl, signals.jsonl, state.json (volumes) beside it.
# Source it, or: standin.sh start | stop | add-instance IP ID [AZ] | add-secret ARN VALUE | add-stack RESOURCES_JSON |
#   add-volume VOL SIZE_GIB [AZ] | release INSTANCE_ID | signals | log
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LAB_AWS=$LAB_WORK/aws
LAB_REGION=${LAB_REGION:-lab-1}
LAB_ACCOUNT=${LAB_ACCOUNT:-123456789012}

# _standin_edit PYTHON_EXPR_ON_c : edit config.json under a lock (c = the config dict)
_standin_edit() {
  mkdir -p "$LAB_AWS"
  python3 - "$LAB_AWS/config.json" "$@" <<'PY'
import fcntl, json, os, sys
path, code, args = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(path + ".lock", "a") as lk:
    fcntl.flock(lk, fcntl.LOCK_EX)
    try:
        c = json.load(open(path))
    except FileNotFoundError:
        c = {}
    exec(code)
    tmp = path + ".tmp"
    json.dump(c, open(tmp, "w"), indent=1, sort_keys=True)
    os.replace(tmp, path)
PY
}
# standin_init: fresh config (no instances, secrets, volumes), logs emptied
standin_init() {
  mkdir -p "$LAB_AWS"
  rm -f "$LAB_AWS"/{config.json,state.json,requests.jsonl,signals.jsonl,invalidations.jsonl}
  _standin_edit 'c.update(imds_listen=args[0], api_listen=args[1], region=args[2], account_id=args[3],
    role="lab-instance-role", instances={}, secrets={}, volumes={}, stacks={}, state_file="state.json",
    signals_file="signals.jsonl", log_file="requests.jsonl", attach_hook=args[4], dns_listen=args[5])' \
    "$LAB_IMDS_IP:80" "$LAB_HOST_IP:$LAB_AWS_PORT" "$LAB_REGION" "$LAB_ACCOUNT" "$LAB_DIR/ebs-attach-hook.sh" "$LAB_HOST_IP:53"
  touch "$LAB_AWS/signals.jsonl" "$LAB_AWS/requests.jsonl"
}
standin_start() {
  [ -f "$LAB_AWS/config.json" ] || standin_init
  standin_stop
  setsid python3 "$LAB_DIR/aws_standin.py" serve --config "$LAB_AWS/config.json" </dev/null \
    >"$LAB_AWS/standin.out" 2>&1 &
  echo $! >"$LAB_AWS/standin.pid"; disown $! 2>/dev/null || true
  lab_wait 10 "aws stand-in" curl -s -o /dev/null "http://$LAB_HOST_IP:$LAB_AWS_PORT/" \
    || { cat "$LAB_AWS/standin.out"; return 1; }
}
standin_stop() {
  local pid; pid=$(cat "$LAB_AWS/standin.pid" 2>/dev/null) || return 0
  lab_stop_pid "$pid" TERM 5; rm -f "$LAB_AWS/standin.pid"
}
standin_add_instance() { _standin_edit 'c.setdefault("instances", {})[args[0]] = {"instance_id": args[1], "az": args[2]}' "$1" "$2" "${3:-${LAB_REGION}a}"; }
standin_add_secret() { _standin_edit 'c.setdefault("secrets", {})[args[0]] = args[1]' "$1" "$2"; }
# standin_add_stack RESOURCES_JSON: a rendered stack's resources (cfn.py's resources.json), for DescribeStackResource
standin_add_stack() { _standin_edit 'import json; c.setdefault("stacks", {}).update(json.load(open(args[0])))' "$1"; }
standin_add_distribution() { _standin_edit 'c.setdefault("cloudfront", {})[args[0]] = args[1]' "$1" "$2"; }
# standin_add_recovery_point ARN DIR FS_ID FS_DIR: an EFS recovery point (a directory) that restores into FS_DIR
standin_add_recovery_point() {
  _standin_edit 'c.setdefault("recovery_points", {})[args[0]] = args[1]; c.setdefault("file_systems", {})[args[2]] = args[3]' "$1" "$2" "$3" "$4"
}
standin_add_volume() { _standin_edit 'c.setdefault("volumes", {})[args[0]] = {"size": int(args[1]), "az": args[2]}' "$1" "$2" "${3:-${LAB_REGION}a}"; }
# A dead instance's volumes become available again (like EC2 after termination).
standin_release() { python3 "$LAB_DIR/aws_standin.py" release-instance --config "$LAB_AWS/config.json" "$1" >/dev/null; }
standin_signals() { cat "$LAB_AWS/signals.jsonl"; }

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cmd=${1:-}; shift || true
  case $cmd in
    init) standin_init ;; start) standin_start ;; stop) standin_stop ;;
    add-instance) standin_add_instance "$@" ;; add-secret) standin_add_secret "$@" ;;
    add-volume) standin_add_volume "$@" ;; add-stack) standin_add_stack "$1" ;; release) standin_release "$1" ;;
    signals) standin_signals ;; log) cat "$LAB_AWS/requests.jsonl" ;;
    *) echo "usage: $0 init|start|stop|add-instance IP ID [AZ]|add-secret ARN VALUE|add-stack RESOURCES_JSON|add-volume VOL GIB [AZ]|release ID|signals|log" >&2; exit 2 ;;
  esac
fi
