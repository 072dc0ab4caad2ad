# Every lab building block, for scripts that drive a whole lab: . "$(dirname "$0")/lab.sh"
. ./common.sh
. ./latency.sh
. ./net.sh
. ./standin.sh
. ./db.sh
. ./haproxy.sh
. ./ebs.sh
. ./instance.sh
. ./edge.sh
