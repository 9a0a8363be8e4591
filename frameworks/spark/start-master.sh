# spark start (master): the standalone master (not on YARN) and the history server, as
# systemd services running as spark. Without slaves, a standalone worker runs here too.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_SLAVE_COUNT:?}" "${DISCO_COMPONENTS:?}" "${DISCO_HOME:?}"
cd /

master=$DISCO_MASTER_ADDRESS
spark_home=$DISCO_HOME/spark
on_yarn=false
case " $DISCO_COMPONENTS " in *" hadoop "*) on_yarn=true ;; esac

if [ "$on_yarn" = false ]; then
  disco_service spark-master spark \
    "$spark_home/bin/spark-class org.apache.spark.deploy.master.Master --host $master --port 7077 --webui-port 8080" \
    "SPARK_HOME=$spark_home"
  disco_wait_tcp "$master" 7077 300
  disco_wait_http "http://127.0.0.1:8080/json/" 300
  if [ "$DISCO_SLAVE_COUNT" = 0 ]; then
    echo "spark: no slaves: the master runs a worker too"
    disco_service spark-worker spark \
      "$spark_home/bin/spark-class org.apache.spark.deploy.worker.Worker --host $master --port 7078 --webui-port 8081 --work-dir /var/lib/spark/work spark://$master:7077" \
      "SPARK_HOME=$spark_home"
    disco_wait_tcp "$master" 7078 300
  fi
  # The master_url output (reported to DISCO): only a standalone master has one.
  printf 'spark://%s:7077\n' "$master" >"$DISCO_HOME/spark-master-url"
else
  rm -f "$DISCO_HOME/spark-master-url"
fi

disco_service spark-history spark \
  "$spark_home/bin/spark-class org.apache.spark.deploy.history.HistoryServer" \
  "SPARK_HOME=$spark_home"
disco_wait_http "http://127.0.0.1:18080/api/v1/applications" 300
echo "spark: running ($([ "$on_yarn" = true ] && echo "on YARN" || echo "standalone master") and history server)"
