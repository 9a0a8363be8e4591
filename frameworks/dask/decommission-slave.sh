# dask decommission (slave): before this VM leaves a cluster scaled in, the scheduler
# moves what its worker holds to the other workers and sends it no more work
# (retire_workers); then the worker service stops, and DISCO has Heat remove the VM.
# A worker the scheduler no longer has (an earlier attempt retired it) is done already.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_HOME:?}"
cd /

self=$(disco_node_address)
runuser -u dask -- env HOME=/var/lib/dask "$DISCO_HOME/dask/venv/bin/python" - \
  "tcp://$DISCO_MASTER_ADDRESS:8786" "tcp://$self:8788" <<'PY'
import sys

from dask.distributed import Client

scheduler, worker = sys.argv[1], sys.argv[2]
with Client(scheduler, timeout="60s") as client:
    if worker not in client.scheduler_info()["workers"]:
        print(f"dask: the scheduler has no worker {worker} (retired already)")
        sys.exit(0)
    retired = client.retire_workers(workers=[worker], close_workers=False, remove=True)
    if worker not in retired:
        sys.exit(f"dask: the scheduler did not retire {worker} (its data has nowhere to go?)")
    print(f"dask: {worker} retired; what it held is on the other workers")
PY
systemctl stop disco-dask-worker.service || true
