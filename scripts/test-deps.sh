#!/usr/bin/env bash
# Installs the system packages the tests need (Debian), once: PHP to lint and unit-test the boot's PHP
# files, shellcheck for the boot script. The boot lab installs its own (lab/setup-host.sh).
set -euo pipefail
needed=()
command -v php >/dev/null || needed+=(php-cli)
command -v shellcheck >/dev/null || needed+=(shellcheck)
[ ${#needed[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need: ${needed[*]}. Install them (apt-get install ${needed[*]}) or run as root." >&2
  exit 1
fi
echo "Installing ${needed[*]} for the tests"
apt-get -q update >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${needed[@]}" >/dev/null
