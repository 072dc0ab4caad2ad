#!/usr/bin/env bash
# Installs the system packages the tests need (Debian), once: PHP to lint and unit-test the boot's PHP
# files, php-redis and redis-server for the object cache drop-in's tests, shellcheck for the boot script.
# The boot lab installs its own (lab/setup-host.sh).
set -euo pipefail
needed=()
command -v php >/dev/null || needed+=(php-cli)
command -v shellcheck >/dev/null || needed+=(shellcheck)
command -v redis-server >/dev/null || needed+=(redis-server)
command -v redis-cli >/dev/null || needed+=(redis-tools)
{ command -v php >/dev/null && php -m | grep -qx redis; } || needed+=(php-redis)
[ ${#needed[@]} -eq 0 ] && exit 0
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  # GitHub's runners, and most developer machines, have sudo; without it, say what to install.
  command -v sudo >/dev/null || { echo "The tests need: ${needed[*]}. Install them (apt-get install ${needed[*]}) or run as root." >&2; exit 1; }
  sudo=(sudo)
fi
echo "Installing ${needed[*]} for the tests"
"${sudo[@]}" apt-get -q -o Acquire::Retries=3 update >/dev/null
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  -o Acquire::Retries=3 -o DPkg::Lock::Timeout=300 "${needed[@]}" >/dev/null
