# hadoop start (master): formats HDFS once, starts the namenode and the resourcemanager
# as systemd services (user hadoop), and creates the shared HDFS directories. A cluster
# without slaves also runs a datanode and a nodemanager here.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_SLAVE_COUNT:?}" "${DISCO_CLUSTER_ID:?}" "${DISCO_HOME:?}"
cd /

master=$DISCO_MASTER_ADDRESS
hadoop_home=$DISCO_HOME/hadoop
env_home="HADOOP_HOME=$hadoop_home"
env_conf="HADOOP_CONF_DIR=$hadoop_home/etc/hadoop"

as_hadoop() {
  runuser -u hadoop -- "$@"
}

# Format once: a namenode directory with a VERSION file is formatted already.
if [ ! -f /var/lib/hadoop/hdfs/namenode/current/VERSION ]; then
  as_hadoop "$hadoop_home/bin/hdfs" namenode -format -clusterid "CID-$DISCO_CLUSTER_ID" -force -nonInteractive
fi

disco_service hdfs-namenode hadoop "$hadoop_home/bin/hdfs namenode" "$env_home" "$env_conf"
disco_wait_tcp "$master" 8020 300
disco_wait_http "http://127.0.0.1:9870/index.html" 300
timeout 600 runuser -u hadoop -- "$hadoop_home/bin/hdfs" dfsadmin -safemode wait

as_hadoop "$hadoop_home/bin/hdfs" dfs -mkdir -p /tmp /user/hadoop
as_hadoop "$hadoop_home/bin/hdfs" dfs -chmod 1777 /tmp

disco_service yarn-resourcemanager hadoop "$hadoop_home/bin/yarn resourcemanager" "$env_home" "$env_conf"
disco_wait_tcp "$master" 8031 300
disco_wait_tcp "$master" 8032 300

if [ "$DISCO_SLAVE_COUNT" = 0 ]; then
  echo "hadoop: no slaves: the master runs the datanode and the nodemanager too"
  disco_service hdfs-datanode hadoop "$hadoop_home/bin/hdfs datanode" "$env_home" "$env_conf"
  disco_service yarn-nodemanager hadoop "$hadoop_home/bin/yarn nodemanager" "$env_home" "$env_conf"
  disco_wait_tcp 127.0.0.1 9866 300
  disco_wait_tcp 127.0.0.1 8042 300
fi
echo "hadoop: namenode and resourcemanager running"
