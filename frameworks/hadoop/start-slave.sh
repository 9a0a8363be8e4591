# hadoop start (slaves): a datanode and a nodemanager as systemd services (user hadoop),
# started once the master's namenode and resourcemanager accept connections.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_HOME:?}"
cd /

master=$DISCO_MASTER_ADDRESS
hadoop_home=$DISCO_HOME/hadoop
env_home="HADOOP_HOME=$hadoop_home"
env_conf="HADOOP_CONF_DIR=$hadoop_home/etc/hadoop"

# The master downloads the same release, so allow it the time of a slow download.
disco_wait_tcp "$master" 8020 1800
disco_service hdfs-datanode hadoop "$hadoop_home/bin/hdfs datanode" "$env_home" "$env_conf"
disco_wait_tcp "$master" 8031 900
disco_service yarn-nodemanager hadoop "$hadoop_home/bin/yarn nodemanager" "$env_home" "$env_conf"

disco_wait_tcp 127.0.0.1 9866 300
disco_wait_tcp 127.0.0.1 8042 300
echo "hadoop: datanode and nodemanager running"
