# spark smoke (local master): a worker registered and alive for every slave the cluster
# runs on (those DISCO gave up on left out), as the master's JSON API tells (bounded
# wait).
set -euo pipefail
: "${DISCO_HOME:?}" "${DISCO_NODE_ADDRESS:?}" "${DISCO_SLAVE_COUNT:?}"
# shellcheck disable=SC1091
. "$DISCO_HOME/spark/env.sh"

expected=$DISCO_SLAVE_COUNT
# The master's JSON has the line "aliveworkers" : N.
alive_workers() {
  curl -fsS --max-time 2 "http://$DISCO_NODE_ADDRESS:8080/json/" \
    | sed -n 's/^ *"aliveworkers" *: *\([0-9]*\).*/\1/p'
}
asked=-10
workers_alive() {
  local alive
  # DISCO is asked every 5 s at most; the workers every look.
  if [ $((SECONDS - asked)) -ge 5 ]; then
    expected=$(disco_expected_slaves)
    asked=$SECONDS
  fi
  [ "$expected" -gt 0 ] || expected=1   # without slaves the master runs the one worker
  alive=$(alive_workers 2>/dev/null || true)
  [ "${alive:-0}" -ge "$expected" ]
}
if ! disco_wait_until 300 "$expected alive Spark workers" workers_alive; then
  echo "spark: $(alive_workers 2>/dev/null || echo no) alive workers, expected $expected" >&2
  exit 1
fi
echo "spark: $expected alive workers"
