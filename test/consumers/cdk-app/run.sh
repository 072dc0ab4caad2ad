#!/usr/bin/env bash
# Meets the library as a new TypeScript user does: `cdk init app` with today's CLI, the packed tarball from
# dist/js (not the sources), the README's examples pasted in, `cdk synth` with the context cdk init wrote.
#
# cdk init turns on @aws-cdk/core:validateAgainstDefaultRules, so aws-cdk-lib's CloudFormation Validate
# errors fail synthesis; we add @aws-cdk/core:strictCfnValidateErrors (construct-library strict mode: its
# warnings fail too). Under the CLI that key does nothing (CLI 2.1148.1 sets failSynthOnValidationErrors=false
# for the app and fails only on errors, or on every warning with --strict, the library's own included), so
# judge.js applies strict mode itself: any CloudFormation Validate finding, warning or error, fails the case.
# Each ```ts block of README.md becomes one stack (stacks.js, wrapped like rosetta does), synthesized alone
# on each aws-cdk-lib version below. A case passes when synth exits 0, prints no [WARNING] (jsii's
# deprecation notices) and judge.js finds nothing: no validation finding, no annotation but the library's
# own acknowledgeable warnings.
#
# The README's Python example, a whole app.py, gets the same in a `cdk init app --language python` app with
# the wheel from dist/python, on the newest aws-cdk-lib PyPI serves.
#
# Writes test-reports/cdk-app.xml (one test case per example per version); CDK_APP_KEEP=1 keeps the apps.
# No AWS account is used: the stacks are environment-agnostic and nothing may wait on the EC2 metadata service.
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the run too
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)

CLI_VERSION=2.1148.1 # the aws-cdk CLI a user gets today
# The newest aws-cdk-lib the registry serves (pinned so CI is repeatable: bump it deliberately), and the
# floor, the library's peer-dependency minimum (keep it equal to cdkVersion in .projenrc.ts).
LIB_VERSIONS=(2.276.0 2.257.0)
PY_LIB_VERSION=2.275.0 # the newest on PyPI here: 2.276.0 is on npm only, so far
REPORT=$root/test-reports/cdk-app.xml
JOBS=$(nproc)

export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

work=$(mktemp -d)
CASES=()
PASSES=0
FAILS=0
xml() { python3 -c 'import sys, xml.sax.saxutils as s; print(s.quoteattr(sys.argv[1]))' "$1"; }
text() { python3 -c 'import sys, xml.sax.saxutils as s; print(s.escape(sys.stdin.read()))'; }
case_xml() { # case_xml CLASS NAME SECONDS [MESSAGE]: one <testcase>, a failure when MESSAGE is given
  if [ $# -eq 3 ]; then echo "<testcase classname=$(xml "$1") name=$(xml "$2") time=\"$3\"/>"; return; fi
  echo "<testcase classname=$(xml "$1") name=$(xml "$2") time=\"$3\"><failure message=$(xml "$(head -3 <<<"$4")")>$(text <<<"$4")</failure></testcase>"
}
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ $((PASSES + FAILS)) -eq 0 ]; then
    # The apps could not be made: one failing case, so that no report never reads as nothing failed.
    FAILS=1; CASES+=("$(case_xml cdk-app setup 0 "run.sh stopped with exit code $rc before any example ran; see its output")")
  fi
  mkdir -p "$(dirname "$REPORT")"
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo "<testsuites name=\"cdk-app\" tests=\"$((PASSES + FAILS))\" failures=\"$FAILS\" errors=\"0\">"
    echo "<testsuite name=\"cdk-app\" tests=\"$((PASSES + FAILS))\" failures=\"$FAILS\" errors=\"0\">"
    printf '%s\n' "${CASES[@]}"
    echo '</testsuite></testsuites>'
  } >"$REPORT"
  if [ "${CDK_APP_KEEP:-0}" = 1 ]; then echo "CDK_APP_KEEP=1: the apps are left in $work"; else rm -rf "$work"; fi
  echo "$PASSES passed, $FAILS failed in ${SECONDS}s ($REPORT)"
  [ "$rc" -ne 0 ] || [ "$FAILS" -eq 0 ] || rc=1
  exit "$rc"
}
trap on_exit EXIT

# The library as users get it: the tarball npm would download, the wheel pip would. Built when missing or
# older than the compiled assembly, so that a run never judges yesterday's package.
package() { # package GLOB TASK: the file dist/GLOB matches, (re)built by projen's TASK when missing or stale
  local file
  file=$(compgen -G "$root/dist/$1" || true)
  if [ -z "$file" ] || [ "$root/.jsii" -nt "$file" ]; then
    (cd "$root" && npx projen "$2") >&2
    file=$(compgen -G "$root/dist/$1")
  fi
  echo "$file"
}
tgz=$(package 'js/*.tgz' package:js)
whl=$(package 'python/*.whl' package:python)

strict_context() { # to cdk.json as cdk init wrote it, add construct-library strict mode
  node -e 'const f = "cdk.json", j = JSON.parse(require("fs").readFileSync(f));
    if (j.context["@aws-cdk/core:validateAgainstDefaultRules"] !== true) throw new Error("cdk init no longer turns on validateAgainstDefaultRules");
    j.context["@aws-cdk/core:strictCfnValidateErrors"] = true;
    require("fs").writeFileSync(f, JSON.stringify(j, null, 2));'
}

init() { # init LANGUAGE VERSION: cdk init in the current directory, aws-cdk-lib VERSION
  # --generate-only: no git repository, no dependency install, no build (the install that follows is the
  # user's). --lib-version: the aws-cdk-lib version init writes into package.json or requirements.txt.
  npx --yes "aws-cdk@$CLI_VERSION" init app --language "$1" --generate-only --lib-version "$2" \
    >../init.log 2>&1 || { cat ../init.log >&2; return 1; }
  strict_context
}

make_ts_app() { # make_ts_app VERSION: a cdk init app on that aws-cdk-lib, with our tarball and one stack per example
  mkdir -p "$work/typescript-$1/app" && cd "$work/typescript-$1/app"
  init typescript "$1"
  # Every dependency cdk init lists, and ours; --prefer-offline takes what the shared npm cache holds.
  npm install --prefer-offline --loglevel=error "$tgz" >/dev/null
  local got
  got=$(node -p 'require("aws-cdk-lib/package.json").version')
  [ "$got" = "$1" ] || { echo "aws-cdk-lib $1 wanted, $got installed" >&2; return 1; }
  node "$here/stacks.js" "$root/README.md" "$root/rosetta/default.ts-fixture" bin/app.ts >../stacks
}

make_py_app() { # make_py_app VERSION: a Python cdk init app with our wheel, the README's Python example as app.py
  mkdir -p "$work/python-$1/app" && cd "$work/python-$1/app"
  init python "$1"
  # What init does without --generate-only, and the user's `pip install -r requirements.txt`, with our wheel.
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt "$whl"
  python3 - "$root/README.md" <<'PY'
import re, sys
blocks = re.findall(r'^```python\n(.*?)^```$', open(sys.argv[1]).read(), re.M | re.S)
if len(blocks) != 1:  # it is a whole app.py: more than one needs an app each, which this script does not do
    sys.exit(f'README.md has {len(blocks)} ```python blocks, run.sh expects one')
open('app.py', 'w').write(blocks[0])
PY
  echo Readme-Python >../stacks
}

synth_case() { # synth_case APP STACK: synthesize one example, judge it; writes STACK.{msg,time} and an exit code
  local dir=$work/$1/app out=$work/$1/out/$2 started=$SECONDS rc=0 cdk=(npx cdk)
  cd "$dir"
  # The Python user works in the activated virtualenv, with the CLI from npm (the TypeScript app has its own).
  if [ -d .venv ]; then export PATH=$dir/.venv/bin:$PATH VIRTUAL_ENV=$dir/.venv; cdk=(npx --yes "aws-cdk@$CLI_VERSION"); fi
  # The app command from cdk.json and its context, as a user runs it (the Python app ignores `example`).
  # --no-notices: the notices come from the internet, which CI lacks.
  "${cdk[@]}" synth --quiet --no-notices -c "example=$2" -o "$out" >"$out.log" 2>&1 || rc=$?
  node "$here/judge.js" "$out" >"$out.msg" 2>&1 || true # its problems, or its own crash: either fails the case
  # A deprecated aws-cdk-lib API, called by the example or by the library: jsii prints it, the assembly has no trace.
  grep '^\[WARNING\]' "$out.log" >>"$out.msg" || true
  if [ "$rc" -ne 0 ]; then
    echo "cdk synth exited with $rc" >>"$out.msg"
    # A failed validation is the reason, and judge.js has said so; otherwise the reason is in synth's output.
    grep -q '^[a-z-]*validation-report.json: ' "$out.msg" || grep -v '^\s*$' "$out.log" | tail -25 >>"$out.msg"
  fi
  echo $((SECONDS - started)) >"$out.time"
  [ "$rc" -eq 0 ] && ! [ -s "$out.msg" ]
}

# The apps, named LANGUAGE-VERSION; Python first, its one synth is the longest.
APPS=("python-$PY_LIB_VERSION")
for v in "${LIB_VERSIONS[@]}"; do APPS+=("typescript-$v"); done
echo "cdk init apps: ${APPS[*]} (CLI $CLI_VERSION); $(basename "$tgz"), $(basename "$whl")"
pids=()
for app in "${APPS[@]}"; do
  if [[ $app == python-* ]]; then (make_py_app "${app#*-}") & else (make_ts_app "${app#*-}") & fi
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done # set -e: a failed app stops the run
echo "apps ready after ${SECONDS}s"

# All examples of all apps, $JOBS at a time: each synth is one node process (and Python's), mostly CPU.
for app in "${APPS[@]}"; do
  mkdir -p "$work/$app/out"
  while read -r stack; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    (synth_case "$app" "$stack") &
  done <"$work/$app/stacks"
done
wait

for app in "${APPS[@]}"; do
  class="cdk-app.${app%%-*}.aws-cdk-lib-${app#*-}"
  while read -r stack; do
    out=$work/$app/out/$stack
    [ -e "$out.msg" ] || echo "the case left no result: its synth_case failed early" >"$out.msg"
    [ -e "$out.time" ] || echo 0 >"$out.time"
    if [ -s "$out.msg" ]; then
      FAILS=$((FAILS + 1)); echo "FAIL: $app $stack"; sed 's/^/    /' "$out.msg"
      CASES+=("$(case_xml "$class" "$stack" "$(cat "$out.time")" "$(cat "$out.msg")")")
    else
      PASSES=$((PASSES + 1)); echo "PASS: $app $stack"
      CASES+=("$(case_xml "$class" "$stack" "$(cat "$out.time")")")
    fi
  done <"$work/$app/stacks"
done
