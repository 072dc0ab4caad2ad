#!/usr/bin/env bash
# Builds and tests the Go consumer against the generated Go module (dist/go), as a Go user would, and
# writes its results as JUnit to test-reports/consumer-go.xml.
# The generated module names cloud-assembly-schema-go v53.28.0 (what aws-cdk-go v2.257.0 needs), which our
# machines' Go proxy does not serve; it serves v53.25.0, so the consumer replaces one with the other and
# takes aws-cdk-go v2.276.0. Compiling aws-cdk-go takes about two minutes on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cd "$here"
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
cp go.mod go.mod.orig
trap 'mv go.mod.orig go.mod; rm -f go.sum' EXIT
go mod edit -replace github.com/cdklabs/cloud-assembly-schema-go/awscdkcloudassemblyschema/v53@v53.28.0=github.com/cdklabs/cloud-assembly-schema-go/awscdkcloudassemblyschema/v53@v53.25.0
go mod tidy
out=$(mktemp)
status=0
go test -v ./... 2>&1 | tee "$out" || status=$?
mkdir -p "$root/test-reports"
python3 - "$out" "$root/test-reports/consumer-go.xml" <<'PY'
import re, sys
from xml.sax.saxutils import quoteattr
results = re.findall(r'^\s*--- (PASS|FAIL|SKIP): (\S+) \(([\d.]+)s\)', open(sys.argv[1]).read(), re.M)
cases = ''.join(
    f'<testcase classname="go-consumer" name={quoteattr(name)} time="{t}">'
    + ('<failure message="failed"/>' if r == 'FAIL' else '<skipped/>' if r == 'SKIP' else '') + '</testcase>'
    for r, name, t in results)
failed = sum(r == 'FAIL' for r, _, _ in results)
skipped = sum(r == 'SKIP' for r, _, _ in results)
with open(sys.argv[2], 'w') as f:
    f.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="go consumer" tests="{len(results)}" failures="{failed}" errors="0" skipped="{skipped}">{cases}</testsuite>\n')
PY
exit "$status"
