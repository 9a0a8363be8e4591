# spark activity (master): busy while an application runs on the standalone master; idle
# since the last one ended (the master's GET /json/ on its web UI). Run by the node's
# health reporter, as root, with what it prints sent to DISCO in the heartbeat.
set -euo pipefail
curl -fsS --max-time 10 "http://127.0.0.1:8080/json/" \
  | python3 -c '
import datetime, json, sys
state = json.load(sys.stdin)
active = state.get("activeapps") or []
ended = [app.get("starttime", 0) + app.get("duration", 0) for app in state.get("completedapps") or []]
answer = {"busy": bool(active), "what": f"{len(active)} running applications"}
if ended:
    last = datetime.datetime.fromtimestamp(max(ended) / 1000, datetime.timezone.utc)
    answer["last_active"] = last.strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps(answer))
'
