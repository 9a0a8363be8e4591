# dask smoke (local master): a client waits (bounded) for one worker per slave, checks
# the count, and runs a small computation across the workers.
set -euo pipefail
: "${PARAM_VERSION:?}" "${DISCO_NODE_ADDRESS:?}" "${DISCO_SLAVE_COUNT:?}" "${DISCO_SHARED_DIR:?}"

expected=$DISCO_SLAVE_COUNT
[ "$expected" -gt 0 ] || expected=1   # without slaves the master runs the one worker
disco_venv dask "$PARAM_VERSION" >/dev/null
DASK_CONFIG=$DISCO_SHARED_DIR/dask/config "$DISCO_VENV/bin/python" - "tls://$DISCO_NODE_ADDRESS:8786" "$expected" <<'PY'
import sys

from dask.distributed import Client

address, expected = sys.argv[1], int(sys.argv[2])
with Client(address, timeout="60s") as client:
    client.wait_for_workers(expected, timeout=300)
    workers = len(client.nthreads())
    if workers != expected:
        sys.exit(f"dask: {workers} workers, expected {expected}")
    squares = client.map(lambda x: x * x, range(100))
    total = client.submit(sum, squares).result(timeout=120)
    if total != 328350:
        sys.exit(f"dask: sum of squares 0..99 came out as {total}, expected 328350")
    print(f"dask: {workers} workers; sum of squares 0..99 = {total}")
PY
