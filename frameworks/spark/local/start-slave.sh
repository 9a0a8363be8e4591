# spark start (local slave): a standalone worker on this node's address (RPC 7078, web
# UI 8081), registered with the master.
#
# The worker starts at once, beside the master's start, so the two JVMs come up
# together. A worker that finds the master not listening yet retries only after 5 to
# 15 s, so if its first attempt fails it is started again as soon as the master
# accepts connections: the slow case costs one more JVM start, not a retry wait.
set -euo pipefail
: "${DISCO_HOME:?}" "${DISCO_NODE_ADDRESS:?}" "${DISCO_MASTER_ADDRESS:?}" "${DISCO_LOG_DIR:?}"
: "${PARAM_WORKER_CORES:?}" "${PARAM_WORKER_MEMORY?}"
# shellcheck disable=SC1091
. "$DISCO_HOME/spark/env.sh"

self=$DISCO_NODE_ADDRESS
master=$DISCO_MASTER_ADDRESS
log=$DISCO_LOG_DIR/spark-worker.log
# Every worker shares this machine: 1g each unless asked otherwise.
options=(--memory "${PARAM_WORKER_MEMORY:-1g}")
if [ "$PARAM_WORKER_CORES" -gt 0 ]; then options+=(--cores "$PARAM_WORKER_CORES"); fi

start_worker() {
  disco_daemon spark-worker "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
    --host "$self" --port 7078 --webui-port 8081 --work-dir "$DISCO_HOME/spark/work" \
    "${options[@]}" "spark://$master:7077"
}

# How the worker's registration went, from its log after byte $1: registered, refused
# (the master was not listening yet), tried (no answer yet), or nothing.
registration() {
  local new
  new=$(tail -c +"$(($1 + 1))" "$log" 2>/dev/null || true)
  case $new in
    *"Successfully registered with master"*) echo registered ;;
    *"Failed to connect to master"*) echo refused ;;
    *"Connecting to master"*) echo tried ;;
    *) echo nothing ;;
  esac
}
master_ready() {
  curl -fsS --max-time 2 -o /dev/null "http://$master:8080/json/"
}

offset=$(stat -c %s "$log" 2>/dev/null || echo 0)
start_worker
restarts=0
stuck_since=""
deadline=$(($(date +%s) + 1800))
while true; do
  outcome=$(registration "$offset")
  [ "$outcome" = registered ] && break
  # A worker whose attempt was refused, or went unanswered while the master is up,
  # would only retry after 5 to 15 s: start it again instead.
  again=false
  if [ "$outcome" = refused ]; then
    again=true
  elif [ "$outcome" = tried ] && master_ready; then
    if [ -z "$stuck_since" ]; then
      stuck_since=$(date +%s)
    elif [ $(($(date +%s) - stuck_since)) -ge 2 ]; then
      again=true
    fi
  fi
  if [ "$again" = true ]; then
    restarts=$((restarts + 1))
    if [ "$restarts" -gt 3 ]; then
      echo "spark: the worker could not register with spark://$master:7077 (see $log)" >&2
      exit 1
    fi
    echo "spark: the worker's registration went unanswered ($outcome); starting it again once the master is up"
    disco_wait_until 1800 "the Spark master at $master" master_ready
    offset=$(stat -c %s "$log" 2>/dev/null || echo 0)
    stuck_since=""
    start_worker
    continue
  fi
  if ! disco_daemon_alive spark-worker; then
    echo "spark-worker stopped; the end of its log ($log):" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "spark: the worker did not register with spark://$master:7077 in 1800 s" >&2
    exit 1
  fi
  sleep 0.2
done
echo "spark: worker at $self registered with spark://$master:7077"
