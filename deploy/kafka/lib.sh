# Shared by scripts/kafka-up and scripts/kafka-down (sourced, not run).
#
# Layout of a cluster directory (default $AISLE_KAFKA_DIR or <repo>/.kafka):
#   classpath.txt          the broker's classpath, resolved once by Maven from deploy/kafka/pom.xml
#   brokers                "1" or "3": the cluster this directory was formatted for
#   cluster.id             the KRaft cluster id used to format every node
#   port                   the first broker port (9092 unless kafka-up was given --port)
#   node-N/server.properties, node-N/data/ (log.dirs), node-N/kafka.log, node-N/pid
#
# Ports: with first port P (default 9092), node N serves clients on 127.0.0.1:(P+N-1) and runs
# its KRaft controller on 127.0.0.1:(P+10000+N-1).

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEPLOY_DIR="$REPO_ROOT/deploy/kafka"
KAFKA_DIR="${AISLE_KAFKA_DIR:-$REPO_ROOT/.kafka}"

die() {
    echo "error: $*" >&2
    exit 1
}

log() {
    echo "$*" >&2
}

PORT_BASE=9092
broker_port() { echo $((PORT_BASE + $1 - 1)); }
controller_port() { echo $((PORT_BASE + 10000 + $1 - 1)); }

# Comma-separated bootstrap servers of an N-node cluster.
bootstrap_for() {
    local n=$1 out="" i
    for ((i = 1; i <= n; i++)); do
        out+="${out:+,}127.0.0.1:$(broker_port "$i")"
    done
    echo "$out"
}

node_dir() { echo "$KAFKA_DIR/node-$1"; }

# The pid of node N if its process is alive, else nothing (and a stale pid file is removed).
node_pid() {
    local f pid
    f="$(node_dir "$1")/pid"
    [[ -f $f ]] || return 0
    pid="$(cat "$f")"
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka.Kafka'; then
        echo "$pid"
    else
        rm -f "$f"
    fi
}

# True if something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
