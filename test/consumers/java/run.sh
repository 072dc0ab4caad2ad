#!/usr/bin/env bash
# Builds and tests the Java consumer against the freshly built jar in dist/java (a Maven repository that
# jsii-pacmak wrote), as a Java user's Maven build would. Its Surefire report goes to test-reports/.
set -euo pipefail
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
version=$(node -p "require('$root/package.json').version")
cd "$here"
trap 'rm -rf "$here/target"' EXIT
# Forget any copy of the library a previous build cached, so that this one resolves the fresh jar.
rm -rf "${HOME}/.m2/repository/io/github/cdk-scalable-wordpress"
mvn -B -q -Ddist.repo="$root/dist/java" -Dlibrary.version="$version" test
mkdir -p "$root/test-reports"
cp target/surefire-reports/TEST-*.xml "$root/test-reports/" 
grep -h -o 'tests="[0-9]*" errors="[0-9]*" skipped="[0-9]*" failures="[0-9]*"' target/surefire-reports/TEST-*.xml
