#!/usr/bin/env bash
# Installs and starts the real servers the integration suite runs against, on a
# fresh Debian machine (CI, a developer's box): RabbitMQ from Debian's packages
# FerretDB (a MongoDB-wire server, SQLite backend) built with `go install`, and
# mongo-java-server (an atomic MongoDB-wire server, H2 file backend) built with
# Java 17 and Maven from Debian's packages and its jars from Maven Central.
# Idempotent: what is installed is not installed again, what runs is left running.
#
# Two MongoDB-wire servers, because the store has two modes (server-traits.ts):
# FerretDB 1.x updates are not atomic, so there the store takes its locked mode;
# mongo-java-server synchronizes its writes per collection, so there the store
# runs as on MongoDB, in its atomic mode (test infrastructure only).
#
#   scripts/services.sh          install and start all three
#   scripts/services.sh stop     stop all three
#   scripts/services.sh stop-mongo   stop FerretDB only (the fault tests cut the store off)
#   scripts/services.sh stop-mongo-atomic   stop mongo-java-server only (its data stays in its H2 file)
#   scripts/services.sh restart-rabbitmq   stop the RabbitMQ node and start it again (the broker restart tests)
#
# PFLOW_TEST_AMQP_PORT, PFLOW_TEST_MONGO_PORT, PFLOW_TEST_MONGO_ATOMIC_PORT,
# PFLOW_TEST_RABBITMQ_NODE and PFLOW_SERVICES_DIR run a second, independent set.
#
# Prints the URLs the suite reads (PFLOW_TEST_AMQP_URL, PFLOW_TEST_MONGO_URL,
# PFLOW_TEST_MONGO_ATOMIC_URL).
set -euo pipefail

FERRETDB_VERSION=v1.24.2
AMQP_PORT=${PFLOW_TEST_AMQP_PORT:-5672}
MONGO_PORT=${PFLOW_TEST_MONGO_PORT:-27017}
ATOMIC_PORT=${PFLOW_TEST_MONGO_ATOMIC_PORT:-27018}
# The Erlang node's name; a second set of servers on other ports needs its own.
RABBITMQ_NODE=${PFLOW_TEST_RABBITMQ_NODE:-pflow-test@localhost}
STATE_DIR=${PFLOW_SERVICES_DIR:-/var/tmp/pflow-services}
FERRETDB="$STATE_DIR/bin/ferretdb-$FERRETDB_VERSION"
# The launcher and the Maven project that names its jars (versions pinned there).
ATOMIC_SOURCE="$(cd "$(dirname "$0")" && pwd)/mongo-java-server"
ATOMIC_HOME="$STATE_DIR/mongo-java-server"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  local port=$1 what=$2
  for _ in $(seq 1 120); do
    listening "$port" && return 0
    sleep 0.5
  done
  echo "services: $what did not start listening on 127.0.0.1:$port" >&2
  return 1
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_rabbitmq() {
  command -v rabbitmq-server >/dev/null && return 0
  echo "services: installing rabbitmq-server (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -q rabbitmq-server >/dev/null ||
    { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q rabbitmq-server >/dev/null; }
}

start_rabbitmq() {
  if listening "$AMQP_PORT"; then echo "services: RabbitMQ already listening on $AMQP_PORT"; return 0; fi
  mkdir -p "$STATE_DIR/rabbitmq"
  # The package's start script runs the node as the rabbitmq user: its data must be its own.
  if id rabbitmq >/dev/null 2>&1; then as_root chown -R rabbitmq:rabbitmq "$STATE_DIR/rabbitmq"; fi
  # A node of its own, on loopback only, with its data under STATE_DIR.
  # The policy-rc.d of containers keeps the package's service from starting, so it is started here.
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$AMQP_PORT" \
    RABBITMQ_NODENAME="$RABBITMQ_NODE" RABBITMQ_MNESIA_BASE="$STATE_DIR/rabbitmq/mnesia" \
    RABBITMQ_LOG_BASE="$STATE_DIR/rabbitmq/log" RABBITMQ_DIST_PORT=$((AMQP_PORT + 20000))
  # In the background rather than with -detached, which fails silently under the
  # package's su wrapper. `su` without `-l` keeps the exported RABBITMQ_* settings.
  nohup rabbitmq-server >"$STATE_DIR/rabbitmq.out" 2>&1 &
  wait_for_port "$AMQP_PORT" RabbitMQ
  rabbitmqctl -n "$RABBITMQ_NODENAME" await_startup >/dev/null
  echo "services: RabbitMQ $(rabbitmqctl -n "$RABBITMQ_NODENAME" version 2>/dev/null) on 127.0.0.1:$AMQP_PORT"
}

install_ferretdb() {
  [ -x "$FERRETDB" ] && return 0
  echo "services: building FerretDB $FERRETDB_VERSION from the Go module proxy"
  # A plain `go install …/cmd/ferretdb@v1.24.2` builds a binary that panics at
  # start: the module lacks build/version/version.txt, which FerretDB's release
  # tooling writes. So the module is downloaded, the file written as FerretDB's
  # docs say (content like `git describe`), and the command built from there.
  local module build
  module=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  build=$(mktemp -d)
  cp -r "$module/." "$build" && chmod -R u+w "$build"
  echo "$FERRETDB_VERSION" >"$build/build/version/version.txt"
  mkdir -p "$(dirname "$FERRETDB")"
  (cd "$build" && GOFLAGS=-mod=mod go build -o "$FERRETDB" ./cmd/ferretdb)
  rm -rf "$build"
}

start_ferretdb() {
  if listening "$MONGO_PORT"; then echo "services: a MongoDB-wire server already listening on $MONGO_PORT"; return 0; fi
  mkdir -p "$STATE_DIR/ferretdb"
  nohup "$FERRETDB" --handler=sqlite --sqlite-url="file:$STATE_DIR/ferretdb/" \
    --listen-addr="127.0.0.1:$MONGO_PORT" --telemetry=disable --log-level=warn --state-dir="$STATE_DIR/ferretdb" \
    --debug-addr=- >"$STATE_DIR/ferretdb.log" 2>&1 &
  echo $! >"$STATE_DIR/ferretdb.pid"
  wait_for_port "$MONGO_PORT" FerretDB
  echo "services: FerretDB $FERRETDB_VERSION on 127.0.0.1:$MONGO_PORT"
}

# Rebuilt when the launcher or the pom changes (a stamp of both), else kept.
install_mongo_atomic() {
  local stamp
  stamp=$(cat "$ATOMIC_SOURCE/pom.xml" "$ATOMIC_SOURCE/AtomicMongoServer.java" | sha256sum | cut -c1-16)
  [ "$(cat "$ATOMIC_HOME/build.stamp" 2>/dev/null)" = "$stamp" ] && return 0
  if ! command -v javac >/dev/null || ! command -v mvn >/dev/null; then
    echo "services: installing Java 17 and Maven (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y -q openjdk-17-jdk-headless maven >/dev/null ||
      { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q openjdk-17-jdk-headless maven >/dev/null; }
  fi
  echo "services: building mongo-java-server's launcher (jars from Maven Central)"
  rm -rf "$ATOMIC_HOME/lib" "$ATOMIC_HOME/classes"
  mkdir -p "$ATOMIC_HOME/classes"
  mkdir -p "$STATE_DIR"
  (cd "$ATOMIC_SOURCE" && mvn -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$ATOMIC_HOME/lib") >"$STATE_DIR/mongo-java-server-build.log" 2>&1 ||
    { tail -40 "$STATE_DIR/mongo-java-server-build.log" >&2; return 1; }
  javac -d "$ATOMIC_HOME/classes" -cp "$ATOMIC_HOME/lib/*" "$ATOMIC_SOURCE/AtomicMongoServer.java"
  echo "$stamp" >"$ATOMIC_HOME/build.stamp"
}

# On the H2 file backend, so that a restart (the store-outage fault test) keeps
# the data. A heap of 1 GiB is plenty for test databases, which are dropped.
start_mongo_atomic() {
  if listening "$ATOMIC_PORT"; then echo "services: a MongoDB-wire server already listening on $ATOMIC_PORT"; return 0; fi
  mkdir -p "$ATOMIC_HOME/data"
  nohup java -Xmx1g -Dorg.slf4j.simpleLogger.defaultLogLevel=error -cp "$ATOMIC_HOME/classes:$ATOMIC_HOME/lib/*" \
    AtomicMongoServer "$ATOMIC_PORT" "$ATOMIC_HOME/data/pflow.mv.db" >"$STATE_DIR/mongo-java-server.log" 2>&1 &
  echo $! >"$STATE_DIR/mongo-java-server.pid"
  wait_for_port "$ATOMIC_PORT" mongo-java-server
  echo "services: mongo-java-server 1.47.0 on 127.0.0.1:$ATOMIC_PORT"
}

# Waits for the process to exit (its shutdown hook writes H2's last changes),
# SIGKILL after 10 s, as stop_mongo does for FerretDB.
stop_mongo_atomic() {
  [ -f "$STATE_DIR/mongo-java-server.pid" ] || return 0
  local pid
  pid=$(cat "$STATE_DIR/mongo-java-server.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$STATE_DIR/mongo-java-server.pid"
  for _ in $(seq 1 50); do listening "$ATOMIC_PORT" || return 0; sleep 0.1; done
  echo "services: 127.0.0.1:$ATOMIC_PORT still listening after mongo-java-server stopped" >&2
  return 1
}

# Waits for the process itself to exit, not only for its port to close: a
# FerretDB still shutting down when the next one starts can hold its SQLite
# files, or keep the port so that `start` sees "already listening" and then
# nothing listens. After 10 s it is killed outright.
stop_mongo() {
  [ -f "$STATE_DIR/ferretdb.pid" ] || return 0
  local pid
  pid=$(cat "$STATE_DIR/ferretdb.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$STATE_DIR/ferretdb.pid"
  for _ in $(seq 1 50); do listening "$MONGO_PORT" || return 0; sleep 0.1; done
  echo "services: 127.0.0.1:$MONGO_PORT still listening after FerretDB stopped" >&2
  return 1
}

# The whole node, not `stop_app`/`start_app`: RabbitMQ 3.10 restarted that way in
# quick succession can lose the supervisor of its quorum queues' dead-lettering
# (rabbit_fifo_dlx_sup), after which no quorum queue works until the node restarts.
restart_rabbitmq() {
  rabbitmqctl -n "$RABBITMQ_NODE" stop >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do listening "$AMQP_PORT" || break; sleep 0.1; done
  start_rabbitmq >/dev/null
}

stop_all() {
  rabbitmqctl -n "$RABBITMQ_NODE" stop >/dev/null 2>&1 || true
  stop_mongo
  stop_mongo_atomic
}

case "${1:-start}" in
  start)
    install_rabbitmq
    install_ferretdb
    install_mongo_atomic
    start_rabbitmq
    start_ferretdb
    start_mongo_atomic
    echo "PFLOW_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:$AMQP_PORT"
    echo "PFLOW_TEST_MONGO_URL=mongodb://127.0.0.1:$MONGO_PORT/"
    echo "PFLOW_TEST_MONGO_ATOMIC_URL=mongodb://127.0.0.1:$ATOMIC_PORT/"
    ;;
  stop) stop_all ;;
  stop-mongo) stop_mongo ;;
  stop-mongo-atomic) stop_mongo_atomic ;;
  restart-rabbitmq) restart_rabbitmq ;;
  *) echo "usage: $0 [start|stop|stop-mongo|stop-mongo-atomic|restart-rabbitmq]" >&2; exit 2 ;;
esac
