# dask start (local master): the scheduler on this node's address (8786, dashboard 8787).
# Without slaves, a worker runs here too.
set -euo pipefail
: "${PARAM_VERSION:?}" "${DISCO_NODE_ADDRESS:?}" "${DISCO_SLAVE_COUNT:?}" "${DISCO_NODE:?}"
: "${PARAM_WORKER_THREADS:?}" "${PARAM_WORKER_MEMORY:?}" "${TMPDIR:?}" "${DISCO_SHARED_DIR:?}"

disco_venv dask "$PARAM_VERSION" >/dev/null
# TLS with the cluster's certificate (see install.sh).
export DASK_CONFIG=$DISCO_SHARED_DIR/dask/config
self=$DISCO_NODE_ADDRESS
disco_daemon dask-scheduler "$DISCO_VENV/bin/dask" scheduler \
  --protocol tls --host "$self" --port 8786 --dashboard-address "$self:8787"
disco_daemon_wait dask-scheduler 300 curl -fsS --max-time 2 "http://$self:8787/health"

if [ "$DISCO_SLAVE_COUNT" = 0 ]; then
  echo "dask: no slaves: the master runs a worker too"
  [[ $PARAM_WORKER_MEMORY =~ ^(auto|[0-9.]+[[:space:]]?([kKmMgGtTpP][iI]?)?[bB]?)$ ]] \
    || { echo "dask: worker_memory must look like 4GB, 0.8 or auto, got '$PARAM_WORKER_MEMORY'" >&2; exit 2; }
  threads=()
  if [ "$PARAM_WORKER_THREADS" -gt 0 ]; then threads=(--nthreads "$PARAM_WORKER_THREADS"); fi
  disco_daemon dask-worker "$DISCO_VENV/bin/dask" worker "tls://$self:8786" \
    --name "$DISCO_NODE" --host "$self" "${threads[@]}" --memory-limit "${PARAM_WORKER_MEMORY// /}" \
    --worker-port 8788 --nanny-port 8789 --dashboard-address "$self:8790" \
    --local-directory "$TMPDIR/dask"
  disco_daemon_wait dask-worker 300 disco_tcp_open "$self" 8788
fi
echo "dask: scheduler at tls://$self:8786 (DASK_CONFIG=$DASK_CONFIG), dashboard http://$self:8787/status"
