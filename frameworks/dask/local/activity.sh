# dask activity (local master): busy while a client is connected or a task is being
# processed, from the scheduler's own counts (GET /json/counts.json on its dashboard).
set -euo pipefail
: "${DISCO_NODE_ADDRESS:?}"
curl -fsS --max-time 10 "http://$DISCO_NODE_ADDRESS:8787/json/counts.json" \
  | python3 -c '
import json, sys
counts = json.load(sys.stdin)
# The scheduler counts a client of its own ("fire-and-forget").
clients = max(0, int(counts.get("clients", 0)) - 1)
processing = int(counts.get("processing", 0))
print(json.dumps({
    "busy": clients > 0 or processing > 0,
    "what": f"{clients} clients connected, {processing} tasks processing",
}))
'
