# hadoop start (slaves): a datanode and a nodemanager as systemd services (user hadoop),
# started once the master's namenode and resourcemanager accept connections.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_HOME:?}"
cd /

master=$DISCO_MASTER_ADDRESS
hadoop_home=$DISCO_HOME/hadoop
env_home="HADOOP_HOME=$hadoop_home"
env_conf="HADOOP_CONF_DIR=$hadoop_home/etc/hadoop"

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

# The master downloads the same release, so allow it the time of a slow download.
disco_wait_tcp "$master" 8020 1800
start_service hdfs-datanode hadoop "$hadoop_home/bin/hdfs datanode" "$env_home" "$env_conf"
disco_wait_tcp "$master" 8031 900
start_service yarn-nodemanager hadoop "$hadoop_home/bin/yarn nodemanager" "$env_home" "$env_conf"

disco_wait_tcp 127.0.0.1 9866 300
disco_wait_tcp 127.0.0.1 8042 300
echo "hadoop: datanode and nodemanager running"
