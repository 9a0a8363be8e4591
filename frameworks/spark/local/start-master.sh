# spark start (local master): the standalone master on this node's address (RPC 7077,
# web UI 8080). Without slaves, a worker runs here too.
set -euo pipefail
: "${DISCO_HOME:?}" "${DISCO_NODE_ADDRESS:?}" "${DISCO_SLAVE_COUNT:?}"
: "${PARAM_WORKER_CORES:?}" "${PARAM_WORKER_MEMORY?}"
# shellcheck disable=SC1091
. "$DISCO_HOME/spark/env.sh"

self=$DISCO_NODE_ADDRESS
disco_daemon spark-master "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
  --host "$self" --port 7077 --webui-port 8080
disco_daemon_wait spark-master 300 curl -fsS --max-time 2 "http://$self:8080/json/"

if [ "$DISCO_SLAVE_COUNT" = 0 ]; then
  echo "spark: no slaves: the master runs a worker too"
  options=(--memory "${PARAM_WORKER_MEMORY:-1g}")
  if [ "$PARAM_WORKER_CORES" -gt 0 ]; then options+=(--cores "$PARAM_WORKER_CORES"); fi
  disco_daemon spark-worker "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
    --host "$self" --port 7078 --webui-port 8081 --work-dir "$DISCO_HOME/spark/work" \
    "${options[@]}" "spark://$self:7077"
  disco_daemon_wait spark-worker 300 disco_tcp_open "$self" 8081
fi
echo "spark: master at spark://$self:7077, web UI http://$self:8080/"
