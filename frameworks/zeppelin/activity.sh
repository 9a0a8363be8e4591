# zeppelin activity (master): busy while a paragraph runs (the job manager's notes,
# after a login as admin with the root-only password); idle since the last paragraph
# finished. Run by the node's health reporter, as root; the password goes to curl on
# stdin, never on a command line.
set -euo pipefail
: "${DISCO_HOME:?}"
jar=$(mktemp)
trap 'rm -f "$jar"' EXIT
{ printf 'userName=admin&password='; python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read().strip()), end="")' "$DISCO_HOME/zeppelin/password"; } \
  | curl -fsS --max-time 10 -c "$jar" -o /dev/null --data-binary @- "http://127.0.0.1:8090/api/login"
curl -fsS --max-time 10 -b "$jar" "http://127.0.0.1:8090/api/jobmanager/" \
  | python3 -c '
import datetime, json, sys
notes = (json.load(sys.stdin).get("body") or {}).get("jobs") or []
running = [n for n in notes if n.get("isRunningJob")]
answer = {"busy": bool(running), "what": f"{len(running)} notes running"}
times = [n.get("unixTimeLastRun", 0) for n in notes if n.get("unixTimeLastRun")]
if times:
    last = datetime.datetime.fromtimestamp(max(times) / 1000, datetime.timezone.utc)
    answer["last_active"] = last.strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps(answer))
'
