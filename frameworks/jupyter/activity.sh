# jupyter activity (master): busy while a kernel executes; idle since the kernels' last
# activity (GET /api/kernels with the token, read from its root-only file). An open
# browser tab alone is not work. Run by the node's health reporter, as root.
set -euo pipefail
: "${DISCO_HOME:?}"
token=$(cat "$DISCO_HOME/jupyter/token")
printf 'header = "Authorization: token %s"\n' "$token" \
  | curl -fsS -K - --max-time 10 "http://127.0.0.1:8888/api/kernels" \
  | python3 -c '
import json, sys
kernels = json.load(sys.stdin)
busy = [k for k in kernels if k.get("execution_state") == "busy"]
answer = {"busy": bool(busy), "what": f"{len(busy)} of {len(kernels)} kernels busy"}
times = [k["last_activity"] for k in kernels if k.get("last_activity")]
if times:
    answer["last_active"] = max(times)
print(json.dumps(answer))
'
