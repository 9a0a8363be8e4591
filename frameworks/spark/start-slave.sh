# spark start (slaves): a standalone worker as a systemd service (user spark), once the
# master accepts connections. Nothing on YARN.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_COMPONENTS:?}" "${DISCO_HOME:?}"
cd /

case " $DISCO_COMPONENTS " in
  *" hadoop "*)
    echo "spark: runs on YARN: no worker to start"
    exit 0
    ;;
esac

master=$DISCO_MASTER_ADDRESS
self=$(disco_node_address)
spark_home=$DISCO_HOME/spark

# start_service NAME USER COMMAND [KEY=VALUE...]: disco_service, restarting a service
# that was already running so that a rerun applies the configuration just written.
start_service() {
  local was
  was=$(systemctl is-active "disco-$1.service" 2>/dev/null || true)
  disco_service "$@"
  if [ "$was" = active ]; then
    systemctl restart "disco-$1.service"
  fi
}

disco_wait_tcp "$master" 7077 1800
start_service spark-worker spark \
  "$spark_home/bin/spark-class org.apache.spark.deploy.worker.Worker --host $self --port 7078 --webui-port 8081 --work-dir /var/lib/spark/work spark://$master:7077" \
  "SPARK_HOME=$spark_home"
disco_wait_tcp "$self" 7078 300
echo "spark: worker running, registered with spark://$master:7077"
