# hadoop activity (master): busy while YARN runs or accepts an application (the
# ResourceManager's REST API); idle since the last one finished. Run by the node's
# health reporter, as root.
set -euo pipefail
answers=$(mktemp -d)
trap 'rm -rf "$answers"' EXIT
curl -fsS --max-time 10 -o "$answers/running" "http://127.0.0.1:8088/ws/v1/cluster/apps?states=RUNNING,ACCEPTED"
# The latest finished ones only: YARN keeps up to a thousand.
since=$((($(date +%s) - 7 * 86400) * 1000))
curl -fsS --max-time 10 -o "$answers/finished" \
  "http://127.0.0.1:8088/ws/v1/cluster/apps?states=FINISHED,FAILED,KILLED&finishedTimeBegin=$since"
python3 -c '
import datetime, json, sys
def apps(path):
    with open(path) as f:
        return ((json.load(f) or {}).get("apps") or {}).get("app") or []
running, finished = apps(sys.argv[1] + "/running"), apps(sys.argv[1] + "/finished")
answer = {"busy": bool(running), "what": f"{len(running)} YARN applications running"}
ends = [app.get("finishedTime", 0) for app in finished if app.get("finishedTime")]
if ends:
    last = datetime.datetime.fromtimestamp(max(ends) / 1000, datetime.timezone.utc)
    answer["last_active"] = last.strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps(answer))
' "$answers"
