# jupyter smoke (local master): /api/status answers 200 with the token and 403 without.
set -euo pipefail
: "${DISCO_HOME:?}" "${DISCO_NODE_ADDRESS:?}"

url="http://$DISCO_NODE_ADDRESS:8888/api/status"
with=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
  -H "Authorization: token $(cat "$DISCO_HOME/jupyter/token")" "$url")
without=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url")
if [ "$with" != 200 ] || [ "$without" != 403 ]; then
  echo "jupyter: /api/status answered $with with the token and $without without (expected 200 and 403)" >&2
  exit 1
fi
echo "jupyter: /api/status answers 200 with the token and 403 without"
