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

disco_wait_tcp "$master" 7077 1800
disco_service spark-worker spark \
  "$spark_home/bin/spark-class org.apache.spark.deploy.worker.Worker --host $self --port 7078 --webui-port 8081 --work-dir /var/lib/spark/work spark://$master:7077" \
  "SPARK_HOME=$spark_home"
disco_wait_tcp "$self" 7078 300
echo "spark: worker running, registered with spark://$master:7077"
