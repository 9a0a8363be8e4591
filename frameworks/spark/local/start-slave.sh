# spark start (local slave): a standalone worker on this node's address (RPC 7078, web
# UI 8081), registered with the master once it accepts connections.
set -euo pipefail
: "${DISCO_HOME:?}" "${DISCO_NODE_ADDRESS:?}" "${DISCO_MASTER_ADDRESS:?}"
: "${PARAM_WORKER_CORES:?}" "${PARAM_WORKER_MEMORY?}"
# shellcheck disable=SC1091
. "$DISCO_HOME/spark/env.sh"

self=$DISCO_NODE_ADDRESS
master=$DISCO_MASTER_ADDRESS
# Every worker shares this machine: 1g each unless asked otherwise.
options=(--memory "${PARAM_WORKER_MEMORY:-1g}")
if [ "$PARAM_WORKER_CORES" -gt 0 ]; then options+=(--cores "$PARAM_WORKER_CORES"); fi

disco_wait_until 1800 "the Spark master at $master:7077" disco_tcp_open "$master" 7077
disco_daemon spark-worker "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
  --host "$self" --port 7078 --webui-port 8081 --work-dir "$DISCO_HOME/spark/work" \
  "${options[@]}" "spark://$master:7077"
disco_daemon_wait spark-worker 300 disco_tcp_open "$self" 8081
echo "spark: worker at $self, registering with spark://$master:7077"
