# dask smoke (master): a client on the master waits (bounded) for a worker per slave the
# cluster runs on (those DISCO gave up on left out, asked again as it waits), and runs a
# small computation across the workers.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_SLAVE_COUNT:?}" "${DISCO_HOME:?}"
cd /

# Exits 3 when fewer than $1 workers came within a short wait, so that the count is
# asked for again.
compute_on() {
  runuser -u dask -- env HOME=/var/lib/dask "$DISCO_HOME/dask/venv/bin/python" - \
    "tcp://$DISCO_MASTER_ADDRESS:8786" "$1" <<'PY'
import asyncio
import sys

from dask.distributed import Client

address, expected = sys.argv[1], int(sys.argv[2])
with Client(address, timeout="60s") as client:
    try:
        client.wait_for_workers(expected, timeout=15)
    except (TimeoutError, asyncio.TimeoutError):
        print(f"dask: {len(client.nthreads())} workers so far, waiting for {expected}")
        sys.exit(3)
    workers = len(client.nthreads())
    squares = client.map(lambda x: x * x, range(100))
    total = client.submit(sum, squares).result(timeout=300)
    if total != 328350:
        sys.exit(f"dask: sum of squares 0..99 came out as {total}, expected 328350")
    print(f"dask: {workers} workers; sum of squares 0..99 = {total}")
PY
}
deadline=$(($(date +%s) + 600))
while true; do
  expected=$(disco_expected_slaves)
  [ "$expected" -gt 0 ] || expected=1   # without slaves the master runs the one worker
  rc=0
  compute_on "$expected" || rc=$?
  [ "$rc" -eq 3 ] || exit "$rc"
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "dask: fewer than $expected workers after waiting" >&2
    exit 1
  fi
done
