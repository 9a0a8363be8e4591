# spark smoke (master): a standalone worker alive for every slave the cluster runs on
# (bounded wait), SparkPi through the cluster's master (standalone or YARN) with its
# result checked, and the run listed by the history server.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_SLAVE_COUNT:?}" "${DISCO_COMPONENTS:?}"
: "${DISCO_HOME:?}" "${DISCO_LOG_DIR:?}"
cd /

master=$DISCO_MASTER_ADDRESS
spark_home=$DISCO_HOME/spark
on_yarn=false
case " $DISCO_COMPONENTS " in *" hadoop "*) on_yarn=true ;; esac

if [ "$on_yarn" = false ]; then
  deadline=$(($(date +%s) + 600))
  while true; do
    # The slaves the cluster runs on now: DISCO may give up on one that failed.
    expected=$(disco_expected_slaves)
    [ "$expected" -gt 0 ] || expected=1   # without slaves the master runs the one worker
    alive=$(curl -fsS --max-time 5 "http://$master:8080/json/" 2>/dev/null \
      | python3 -c 'import json, sys; print(json.load(sys.stdin).get("aliveworkers", 0))' 2>/dev/null || true)
    [ "${alive:-0}" -ge "$expected" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "spark: ${alive:-no} alive workers after waiting, expected $expected" >&2
      exit 1
    fi
    sleep 5
  done
  echo "spark: $alive alive workers"
fi

jars=("$spark_home"/examples/jars/spark-examples_*.jar)
[ -f "${jars[0]}" ] || { echo "spark: no examples jar in $spark_home/examples/jars" >&2; exit 2; }

app_name="DISCO smoke SparkPi $(date +%s)"
# Small containers, so that the test fits the smallest nodes.
options=(--class org.apache.spark.examples.SparkPi --name "$app_name"
  --driver-memory 512m --executor-memory 512m)
if [ "$on_yarn" = true ]; then
  options+=(--num-executors 1
    --conf spark.executor.memoryOverhead=128m
    --conf spark.yarn.am.memory=384m
    --conf spark.yarn.am.memoryOverhead=128m)
fi

driver_log=$DISCO_LOG_DIR/spark/smoke-sparkpi.log
if ! output=$(timeout 900 runuser -u spark -- "$spark_home/bin/spark-submit" "${options[@]}" "${jars[0]}" 10 2>"$driver_log"); then
  echo "spark: SparkPi failed; the end of its log ($driver_log):" >&2
  tail -n 40 "$driver_log" >&2
  exit 1
fi
pi=$(printf '%s\n' "$output" | sed -n 's/^Pi is roughly \([0-9.]*\).*/\1/p' | head -n 1)
if [ -z "$pi" ] || ! awk -v p="$pi" 'BEGIN { exit !(p > 3.0 && p < 3.3) }'; then
  echo "spark: SparkPi printed no plausible result: '$output'" >&2
  exit 1
fi
echo "spark: SparkPi says pi is roughly $pi"

# The run's application id, from the driver's log (standalone: "Connected to Spark
# cluster with app ID app-...", YARN: "Submitted application application_..."). Not its
# name: SparkPi sets its own ("Spark Pi"), which wins over --name.
app_id=$(grep -o -E 'app ID app-[0-9]+-[0-9]+|Submitted application application_[0-9]+_[0-9]+' "$driver_log" \
  | head -n 1 | awk '{print $NF}')
if [ -z "$app_id" ]; then
  echo "spark: no application id in the driver's log ($driver_log)" >&2
  exit 1
fi
# The history server rescans its log directory every 10 s.
deadline=$(($(date +%s) + 180))
while true; do
  applications=$(curl -fsS --max-time 5 "http://127.0.0.1:18080/api/v1/applications" 2>/dev/null || true)
  case $applications in *"\"$app_id\""*) break ;; esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "spark: the history server does not list $app_id ('$app_name')" >&2
    exit 1
  fi
  sleep 5
done
echo "spark: history server lists the run ($app_id)"
