#!/usr/bin/env bash
# The boot lab needs root (containers, network namespaces): run it as root directly, and through sudo for anyone
# else, such as GitHub's runners, which have passwordless sudo. A pull request then runs every test CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
  exec bash lab/run.sh "$@"
fi
exec sudo --preserve-env env "PATH=$PATH" bash lab/run.sh "$@"
