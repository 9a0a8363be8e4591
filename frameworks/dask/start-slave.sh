# dask start (slaves): a nanny-managed worker as a systemd service running as dask,
# connecting to tcp://<master>:8786 once the scheduler accepts connections.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_HOME:?}" "${DISCO_NODE:?}"
: "${PARAM_WORKER_THREADS:?}" "${PARAM_WORKER_MEMORY:?}"
cd /

venv=$DISCO_HOME/dask/venv
master=$DISCO_MASTER_ADDRESS
self=$(disco_node_address)

[[ $PARAM_WORKER_THREADS =~ ^[0-9]+$ ]] || { echo "dask: worker_threads must be an integer" >&2; exit 2; }
[[ $PARAM_WORKER_MEMORY =~ ^(auto|[0-9.]+[[:space:]]?([kKmMgGtTpP][iI]?)?[bB]?)$ ]] \
  || { echo "dask: worker_memory must look like 4GB, 0.8 or auto, got '$PARAM_WORKER_MEMORY'" >&2; exit 2; }
threads=()
if [ "$PARAM_WORKER_THREADS" -gt 0 ]; then threads=(--nthreads "$PARAM_WORKER_THREADS"); fi

disco_wait_tcp "$master" 8786 1800
disco_service dask-worker dask \
  "$venv/bin/dask worker tcp://$master:8786 --name $DISCO_NODE --host $self ${threads[*]} --memory-limit ${PARAM_WORKER_MEMORY// /} --worker-port 8788 --nanny-port 8789 --dashboard-address :8790 --local-directory /var/lib/dask/worker" \
  "HOME=/var/lib/dask"
disco_wait_tcp "$self" 8788 300
echo "dask: worker running, connected to tcp://$master:8786"
