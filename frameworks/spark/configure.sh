# spark configure: spark-env.sh and spark-defaults.conf for the standalone master, or for
# YARN when hadoop is deployed; event log directory (HDFS on YARN, local otherwise).
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_NODE_GROUP:?}" "${DISCO_COMPONENTS:?}"
: "${DISCO_HOME:?}" "${DISCO_LOG_DIR:?}"
: "${PARAM_WORKER_CORES:?}" "${PARAM_WORKER_MEMORY?}"
cd /

on_yarn=false
case " $DISCO_COMPONENTS " in *" hadoop "*) on_yarn=true ;; esac
if [ "$DISCO_NODE_GROUP" = slaves ] && [ "$on_yarn" = true ]; then
  echo "spark: runs on YARN: nothing to configure on a slave"
  exit 0
fi

master=$DISCO_MASTER_ADDRESS
self=$(disco_node_address)
spark_home=$DISCO_HOME/spark
conf=$spark_home/conf
[ -d "$conf" ] || { echo "spark: $conf is missing; did install run?" >&2; exit 2; }

if [[ ! $PARAM_WORKER_CORES =~ ^[0-9]+$ ]]; then
  echo "spark: worker_cores must be a non-negative integer, got '$PARAM_WORKER_CORES'" >&2
  exit 2
fi
if [ -n "$PARAM_WORKER_MEMORY" ] && [[ ! $PARAM_WORKER_MEMORY =~ ^[1-9][0-9]*[kKmMgGtT]$ ]]; then
  echo "spark: worker_memory must look like 512m or 2g, got '$PARAM_WORKER_MEMORY'" >&2
  exit 2
fi

java_home=$(disco_java_home) || { echo "spark: no OpenJDK 11 or 17 found" >&2; exit 3; }

install -d -o spark -g spark -m 0755 /var/lib/spark /var/lib/spark/work "$DISCO_LOG_DIR/spark"
# Drivers run as any user (spark, jupyter, zeppelin, people); event logs are written
# mode 770, so the group (setgid: spark) lets the history server read them.
install -d -o spark -g spark -m 3777 /var/lib/spark/events

{
  echo "# Written by DISCO at every deployment: edits are overwritten."
  echo "export JAVA_HOME=$java_home"
  echo "export SPARK_LOCAL_HOSTNAME=$self"
  echo "export SPARK_LOG_DIR=$DISCO_LOG_DIR/spark"
  echo "export PYSPARK_PYTHON=\${PYSPARK_PYTHON:-python3}"
  if [ "$on_yarn" = true ]; then
    echo "export HADOOP_CONF_DIR=$DISCO_HOME/hadoop/etc/hadoop"
  else
    echo "export SPARK_MASTER_HOST=$master"
    echo "export SPARK_MASTER_PORT=7077"
    echo "export SPARK_MASTER_WEBUI_PORT=8080"
    echo "export SPARK_WORKER_PORT=7078"
    echo "export SPARK_WORKER_WEBUI_PORT=8081"
    echo "export SPARK_WORKER_DIR=/var/lib/spark/work"
    if [ "$PARAM_WORKER_CORES" -gt 0 ]; then
      echo "export SPARK_WORKER_CORES=$PARAM_WORKER_CORES"
    fi
    if [ -n "$PARAM_WORKER_MEMORY" ]; then
      echo "export SPARK_WORKER_MEMORY=$PARAM_WORKER_MEMORY"
    fi
  fi
} >"$conf/spark-env.sh.tmp"
chmod 0755 "$conf/spark-env.sh.tmp"
mv "$conf/spark-env.sh.tmp" "$conf/spark-env.sh"

if [ "$on_yarn" = true ]; then
  event_dir=hdfs://$master:8020/spark-logs
else
  event_dir=file:///var/lib/spark/events
fi
{
  echo "# Written by DISCO at every deployment: edits are overwritten."
  if [ "$on_yarn" = true ]; then
    echo "spark.master                      yarn"
    echo "spark.submit.deployMode           client"
    echo "spark.yarn.historyServer.address  $master:18080"
    if [ "$PARAM_WORKER_CORES" -gt 0 ]; then
      echo "spark.executor.cores              $PARAM_WORKER_CORES"
    fi
    if [ -n "$PARAM_WORKER_MEMORY" ]; then
      echo "spark.executor.memory             $PARAM_WORKER_MEMORY"
    fi
  else
    echo "spark.master                      spark://$master:7077"
    echo "spark.master.rest.enabled         false"
  fi
  echo "spark.eventLog.enabled            true"
  echo "spark.eventLog.dir                $event_dir"
  echo "spark.history.fs.logDirectory     $event_dir"
  echo "spark.history.ui.port             18080"
} >"$conf/spark-defaults.conf.tmp"
chmod 0644 "$conf/spark-defaults.conf.tmp"
mv "$conf/spark-defaults.conf.tmp" "$conf/spark-defaults.conf"

# On YARN, the event log directory and the spark user's home live in HDFS; hadoop was
# started before spark (after = ["hadoop"]), so its namenode is up or coming up.
if [ "$on_yarn" = true ] && [ "$DISCO_NODE_GROUP" = master ]; then
  hdfs=$DISCO_HOME/hadoop/bin/hdfs
  disco_wait_tcp "$master" 8020 600
  timeout 600 runuser -u hadoop -- "$hdfs" dfsadmin -safemode wait
  runuser -u hadoop -- "$hdfs" dfs -mkdir -p /spark-logs /user/spark
  runuser -u hadoop -- "$hdfs" dfs -chown spark:spark /spark-logs /user/spark
  runuser -u hadoop -- "$hdfs" dfs -chmod 1777 /spark-logs
fi

if [ "$on_yarn" = true ]; then
  echo "spark: configured for YARN, event logs in $event_dir"
else
  echo "spark: configured for the standalone master spark://$master:7077, event logs in $event_dir"
fi
