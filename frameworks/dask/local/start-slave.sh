# dask start (local slave): a nanny-managed worker on this node's address (8788, nanny
# 8789, dashboard 8790), connected to the scheduler once it accepts connections.
set -euo pipefail
: "${PARAM_VERSION:?}" "${DISCO_NODE_ADDRESS:?}" "${DISCO_MASTER_ADDRESS:?}" "${DISCO_NODE:?}"
: "${PARAM_WORKER_THREADS:?}" "${PARAM_WORKER_MEMORY:?}" "${TMPDIR:?}" "${DISCO_SHARED_DIR:?}"

[[ $PARAM_WORKER_MEMORY =~ ^(auto|[0-9.]+[[:space:]]?([kKmMgGtTpP][iI]?)?[bB]?)$ ]] \
  || { echo "dask: worker_memory must look like 4GB, 0.8 or auto, got '$PARAM_WORKER_MEMORY'" >&2; exit 2; }
threads=()
if [ "$PARAM_WORKER_THREADS" -gt 0 ]; then threads=(--nthreads "$PARAM_WORKER_THREADS"); fi

disco_venv dask "$PARAM_VERSION" >/dev/null
# TLS with the cluster's certificate (see install.sh).
export DASK_CONFIG=$DISCO_SHARED_DIR/dask/config
self=$DISCO_NODE_ADDRESS
master=$DISCO_MASTER_ADDRESS
disco_wait_until 1800 "the Dask scheduler at $master:8786" disco_tcp_open "$master" 8786
disco_daemon dask-worker "$DISCO_VENV/bin/dask" worker "tls://$master:8786" \
  --name "$DISCO_NODE" --host "$self" "${threads[@]}" --memory-limit "${PARAM_WORKER_MEMORY// /}" \
  --worker-port 8788 --nanny-port 8789 --dashboard-address "$self:8790" \
  --local-directory "$TMPDIR/dask"
disco_daemon_wait dask-worker 300 disco_tcp_open "$self" 8788
echo "dask: worker at tls://$self:8788, connected to tls://$master:8786"
