#!/bin/bash
# The construct's stacks in the lab: synthesize an app, render a stack's user data and secrets as
# CloudFormation and Secrets Manager would, and serve the database CA bundle from the URL the user data names.
# Shared by the boot lab (lab/run.sh) and the benchmark (benchmarks/run.sh). Source it after lab.sh.
SITE=site.lab
TRUSTSTORE_IP=$LAB_SUBNET.4
# Where the stacks download RDS's CA bundle from, in the aws partition: the lab answers that name itself
# (render checks that the stack still asks for it).
TRUSTSTORE_HOST=truststore.pki.rds.amazonaws.com
URL_SUFFIX=lab.test
DISTRIBUTION_ID=E2LAB0EDGE0001
. ./cache.sh
export LAB_EXTRA_HOSTS="$TRUSTSTORE_IP $TRUSTSTORE_HOST
$LAB_CACHE_IP $LAB_CACHE_NAME"

# site_synth APP_TS: synthesize a CDK app of the construct into $LAB_WORK/cdk.out
site_synth() {
  (cd "$LAB_DIR/.." && rm -rf "$LAB_WORK/cdk.out" &&
    JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 npx ts-node --project test/tsconfig.json "$1" "$LAB_WORK/cdk.out" >/dev/null)
}

# render STACK NAME: user data, secrets and the launch template's metadata of a stack, in $LAB_WORK/render/NAME/
render() {
  local dir=$LAB_WORK/render/$2
  mkdir -p "$dir"
  cat >"$dir/values.json" <<JSON
{"region": "$LAB_REGION", "urlSuffix": "$URL_SUFFIX", "accountId": "$LAB_ACCOUNT", "stackName": "$1",
 "writerHost": "$LAB_WRITER_NAME", "readerHost": "$LAB_READER_NAME", "dbPort": 3306, "siteHost": "$SITE",
 "fileSystemId": "fs-0lab0000000000001", "volumeId": "vol-0lab0000000000001",
 "distributionId": "$DISTRIBUTION_ID", "edgeHost": "$SITE", "cacheHost": "$LAB_CACHE_NAME"}
JSON
  python3 "$LAB_DIR/cfn.py" "$LAB_WORK/cdk.out/$1.template.json" "$dir/values.json" "$dir" || return 1
  local bundle; bundle=$(user_data_value "$dir" WP_DB_CA_BUNDLE_URL)
  [[ $bundle == "https://$TRUSTSTORE_HOST/"* ]] || lab_die "$1 downloads the database CA bundle from $bundle: the lab serves https://$TRUSTSTORE_HOST/ only"
  echo "$bundle" >"$dir/ca-bundle-url"
}
# user_data_value DIR NAME: the value the rendered user data gives NAME, e.g. WP_DB_SECRET_ARN
user_data_value() { grep -o "^$2='[^']*'" "$1/user-data" | cut -d"'" -f2; }
# site_secret DIR NAME FIELD: one field of the secret whose ARN the user data gives NAME
site_secret() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(json.loads(d[sys.argv[2]])[sys.argv[3]])' \
    "$1/secrets.json" "$(user_data_value "$1" "$2")" "$3"
}
# add_secrets DIR: every secret of the rendered stack into the stand-in, and what DescribeStackResource answers for
# the stack (its launch template's metadata, which holds the boot files)
add_secrets() {
  local arn
  standin_add_stack "$1/resources.json" || return 1
  for arn in $(python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))))' "$1/secrets.json"); do
    standin_add_secret "$arn" "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1/secrets.json" "$arn")"
  done
}
# stack_value DIR KEY: a value of the rendered stack (stack.json), e.g. healthCheckPath
stack_value() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1/stack.json" "$2"; }

# truststore_start: the RDS trust store's download of the CA bundle, over HTTPS, with the lab CA in it
truststore_start() {
  ip addr add "$TRUSTSTORE_IP/32" dev "$LAB_BRIDGE" 2>/dev/null || true
  pki_server truststore "DNS:$TRUSTSTORE_HOST"
  # The bundle at each path a rendered stack downloads it from (a stack pinned to a region names that region's).
  local url path
  for url in "https://$TRUSTSTORE_HOST/$LAB_REGION/$LAB_REGION-bundle.pem" $(cat "$LAB_WORK"/render/*/ca-bundle-url 2>/dev/null); do
    path=$LAB_WORK/truststore/${url#"https://$TRUSTSTORE_HOST/"}
    mkdir -p "$(dirname "$path")" && cp "$LAB_PKI/ca.crt" "$path"
  done
  setsid python3 -c '
import http.server, ssl, sys, functools
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
server = http.server.ThreadingHTTPServer((sys.argv[1], 443), handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); context.load_cert_chain(sys.argv[3], sys.argv[4])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()' "$TRUSTSTORE_IP" "$LAB_WORK/truststore" "$LAB_PKI/truststore.crt" "$LAB_PKI/truststore.key" \
    </dev/null >"$LAB_WORK/truststore.out" 2>&1 &
  echo $! >"$LAB_WORK/truststore.pid"
  disown $!   # not a job of the caller: helpers that `wait` for their own jobs must not wait for it
}
truststore_stop() { [ ! -f "$LAB_WORK/truststore.pid" ] || lab_stop_pid "$(cat "$LAB_WORK/truststore.pid")"; }

# site_teardown: everything a lab or a benchmark started, stopped and removed (each part copes with being down)
site_teardown() {
  inst_destroy_all; edge_stop; haproxy_stop; cache_stop; db_teardown; standin_stop; ebs_delete_all; truststore_stop
  net_down
}
