# dask activity (master): busy while a client is connected or a task is being processed,
# from the scheduler's own counts (GET /json/counts.json on its dashboard). Run by the
# node's health reporter, as root.
set -euo pipefail
curl -fsS --max-time 10 "http://127.0.0.1:8787/json/counts.json" \
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
