# dask start (master): the scheduler (port 8786, dashboard 8787) as a systemd service
# running as dask. Without slaves, a worker runs here too.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_SLAVE_COUNT:?}" "${DISCO_HOME:?}" "${DISCO_NODE:?}"
: "${PARAM_WORKER_THREADS:?}" "${PARAM_WORKER_MEMORY:?}"
cd /

venv=$DISCO_HOME/dask/venv
master=$DISCO_MASTER_ADDRESS

disco_service dask-scheduler dask \
  "$venv/bin/dask scheduler --port 8786 --dashboard-address :8787" \
  "HOME=/var/lib/dask"
disco_wait_tcp "$master" 8786 300
disco_wait_http "http://127.0.0.1:8787/health" 300

if [ "$DISCO_SLAVE_COUNT" = 0 ]; then
  echo "dask: no slaves: the master runs a worker too"
  [[ $PARAM_WORKER_THREADS =~ ^[0-9]+$ ]] || { echo "dask: worker_threads must be an integer" >&2; exit 2; }
  [[ $PARAM_WORKER_MEMORY =~ ^(auto|[0-9.]+[[:space:]]?([kKmMgGtTpP][iI]?)?[bB]?)$ ]] \
    || { echo "dask: worker_memory must look like 4GB, 0.8 or auto, got '$PARAM_WORKER_MEMORY'" >&2; exit 2; }
  threads=()
  if [ "$PARAM_WORKER_THREADS" -gt 0 ]; then threads=(--nthreads "$PARAM_WORKER_THREADS"); fi
  disco_service dask-worker dask \
    "$venv/bin/dask worker tcp://$master:8786 --name $DISCO_NODE --host $master ${threads[*]} --memory-limit ${PARAM_WORKER_MEMORY// /} --worker-port 8788 --nanny-port 8789 --dashboard-address :8790 --local-directory /var/lib/dask/worker" \
    "HOME=/var/lib/dask"
  disco_wait_tcp "$master" 8788 300
fi
echo "dask: scheduler running at tcp://$master:8786"
