#!/usr/bin/env bash
# Installs the freshly built wheel (dist/python) into a clean virtualenv, as a Python user would, and
# runs the consumer's tests. aws-cdk-lib is pinned to the library's floor so that CI is repeatable.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
wheel=$(ls "$root"/dist/python/cdk_scalable_wordpress-*.whl)
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "$wheel" "aws-cdk-lib==2.257.0" "constructs==10.5.1" "pytest==8.3.5"
cd "$here"
"$venv/bin/python" -m pytest -q -p no:cacheprovider --junitxml="$root/test-reports/consumer-python.xml" test_site.py
