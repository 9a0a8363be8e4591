# hadoop configure (master and slaves): hadoop-env.sh, core/hdfs/yarn/mapred-site.xml and
# capacity-scheduler.xml, all pointing at the master's private address; data directories.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_NODE_GROUP:?}" "${DISCO_SLAVE_COUNT:?}"
: "${DISCO_HOME:?}" "${DISCO_LOG_DIR:?}"
: "${PARAM_REPLICATION:?}" "${PARAM_YARN_MEMORY_MB:?}"
cd /

master=$DISCO_MASTER_ADDRESS
self=$(disco_node_address)
hadoop_home=$DISCO_HOME/hadoop
conf=$hadoop_home/etc/hadoop
data=/var/lib/hadoop
[ -d "$conf" ] || { echo "hadoop: $conf is missing; did install run?" >&2; exit 2; }

for value in "$DISCO_SLAVE_COUNT" "$PARAM_REPLICATION" "$PARAM_YARN_MEMORY_MB"; do
  [[ $value =~ ^[0-9]+$ ]] || { echo "hadoop: '$value' is not a non-negative integer" >&2; exit 2; }
done
slaves=$DISCO_SLAVE_COUNT

java_home=$(disco_java_home) || { echo "hadoop: no OpenJDK 11 or 17 found" >&2; exit 3; }

# Replication: the parameter, or min(3, slaves), at least 1 (a 0-slave cluster keeps its
# one datanode on the master).
if [ "$PARAM_REPLICATION" -gt 0 ]; then
  replication=$PARAM_REPLICATION
  if [ "$replication" -gt "$slaves" ] && [ "$slaves" -gt 0 ]; then
    echo "hadoop: warning: replication $replication exceeds the $slaves datanodes; blocks stay under-replicated" >&2
  fi
else
  replication=$((slaves < 3 ? slaves : 3))
  [ "$replication" -ge 1 ] || replication=1
fi

# NodeManager memory: the parameter, or three quarters of this node's RAM, in steps of
# 128 MB, at least 1024.
total_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
if [ "$PARAM_YARN_MEMORY_MB" -gt 0 ]; then
  nm_memory=$PARAM_YARN_MEMORY_MB
else
  nm_memory=$((total_mb * 3 / 4 / 128 * 128))
  [ "$nm_memory" -ge 1024 ] || nm_memory=1024
fi
max_allocation=$((nm_memory > 8192 ? nm_memory : 8192))
vcores=$(nproc)

# Java resolves its own host name at start; cloud images do not always map it.
if ! getent hosts "$(hostname)" >/dev/null; then
  printf '%s %s\n' "$self" "$(hostname)" >>/etc/hosts
fi

install -d -o hadoop -g hadoop -m 0755 "$data" "$data/tmp" "$data/yarn" "$DISCO_LOG_DIR/hadoop"
install -d -o hadoop -g hadoop -m 0700 "$data/hdfs"
install -d -o hadoop -g hadoop -m 0755 "$data/yarn/local" "$data/yarn/logs"
if [ "$DISCO_NODE_GROUP" = master ]; then
  install -d -o hadoop -g hadoop -m 0700 "$data/hdfs/namenode"
fi
install -d -o hadoop -g hadoop -m 0700 "$data/hdfs/datanode"

# write_xml FILE NAME VALUE [NAME VALUE]...: a Hadoop configuration file, replaced whole.
write_xml() {
  local file=$1
  shift
  {
    printf '<?xml version="1.0" encoding="UTF-8"?>\n'
    printf '<!-- Written by DISCO at every deployment: edits are overwritten. -->\n<configuration>\n'
    while [ "$#" -ge 2 ]; do
      printf '  <property>\n    <name>%s</name>\n    <value>%s</value>\n  </property>\n' "$1" "$2"
      shift 2
    done
    printf '</configuration>\n'
  } >"$file.tmp"
  chmod 0644 "$file.tmp"
  mv "$file.tmp" "$file"
}

# Java 17 needs the JDK internals Hadoop reflects on opened; Java 11 accepts the same flags.
java_opens=
for package in java.lang java.lang.reflect java.io java.net java.nio java.util java.util.concurrent sun.nio.ch; do
  java_opens="$java_opens --add-opens=java.base/$package=ALL-UNNAMED"
done

cat >"$conf/hadoop-env.sh.tmp" <<ENV
# Written by DISCO at every deployment: edits are overwritten.
export JAVA_HOME=$java_home
export HADOOP_HOME=$hadoop_home
export HADOOP_CONF_DIR=$conf
export HADOOP_LOG_DIR=$DISCO_LOG_DIR/hadoop
export HADOOP_OPTS="-Djava.net.preferIPv4Stack=true$java_opens"
ENV
mv "$conf/hadoop-env.sh.tmp" "$conf/hadoop-env.sh"

write_xml "$conf/core-site.xml" \
  fs.defaultFS "hdfs://$master:8020" \
  hadoop.tmp.dir "$data/tmp"

write_xml "$conf/hdfs-site.xml" \
  dfs.replication "$replication" \
  dfs.namenode.name.dir "file://$data/hdfs/namenode" \
  dfs.datanode.data.dir "file://$data/hdfs/datanode" \
  dfs.namenode.rpc-bind-host 0.0.0.0 \
  dfs.namenode.http-address 0.0.0.0:9870 \
  dfs.namenode.datanode.registration.ip-hostname-check false \
  dfs.datanode.hostname "$self" \
  dfs.datanode.address 0.0.0.0:9866 \
  dfs.datanode.ipc.address 0.0.0.0:9867 \
  dfs.datanode.http.address 0.0.0.0:9864 \
  dfs.permissions.superusergroup hadoop \
  dfs.webhdfs.enabled false

# Submission is limited by queue ACLs to the cluster's own accounts and the group hadoop:
# with simple authentication the web UI's anonymous user could otherwise submit
# applications through the public REST API.
submitters="hadoop,spark,jupyter,zeppelin,root,ubuntu hadoop"
write_xml "$conf/yarn-site.xml" \
  yarn.resourcemanager.hostname "$master" \
  yarn.resourcemanager.bind-host 0.0.0.0 \
  yarn.nodemanager.bind-host 0.0.0.0 \
  yarn.nodemanager.hostname "$self" \
  yarn.nodemanager.address "$self:8041" \
  yarn.nodemanager.aux-services mapreduce_shuffle \
  yarn.nodemanager.aux-services.mapreduce_shuffle.class org.apache.hadoop.mapred.ShuffleHandler \
  yarn.nodemanager.resource.memory-mb "$nm_memory" \
  yarn.nodemanager.resource.cpu-vcores "$vcores" \
  yarn.nodemanager.vmem-check-enabled false \
  yarn.nodemanager.local-dirs "$data/yarn/local" \
  yarn.nodemanager.log-dirs "$data/yarn/logs" \
  yarn.nodemanager.env-whitelist "JAVA_HOME,HADOOP_COMMON_HOME,HADOOP_HDFS_HOME,HADOOP_CONF_DIR,CLASSPATH_PREPEND_DISTCACHE,HADOOP_YARN_HOME,HADOOP_HOME,HADOOP_MAPRED_HOME,PATH,LANG,TZ" \
  yarn.scheduler.minimum-allocation-mb 128 \
  yarn.scheduler.maximum-allocation-mb "$max_allocation" \
  yarn.acl.enable true \
  yarn.admin.acl "hadoop hadoop"

write_xml "$conf/capacity-scheduler.xml" \
  yarn.scheduler.capacity.maximum-applications 10000 \
  yarn.scheduler.capacity.maximum-am-resource-percent 0.5 \
  yarn.scheduler.capacity.resource-calculator org.apache.hadoop.yarn.util.resource.DefaultResourceCalculator \
  yarn.scheduler.capacity.node-locality-delay 40 \
  yarn.scheduler.capacity.root.queues default \
  yarn.scheduler.capacity.root.acl_submit_applications " " \
  yarn.scheduler.capacity.root.acl_administer_queue " " \
  yarn.scheduler.capacity.root.default.capacity 100 \
  yarn.scheduler.capacity.root.default.maximum-capacity 100 \
  yarn.scheduler.capacity.root.default.user-limit-factor 1 \
  yarn.scheduler.capacity.root.default.state RUNNING \
  yarn.scheduler.capacity.root.default.acl_submit_applications "$submitters" \
  yarn.scheduler.capacity.root.default.acl_administer_queue "hadoop hadoop"

write_xml "$conf/mapred-site.xml" \
  mapreduce.framework.name yarn \
  yarn.app.mapreduce.am.env "HADOOP_MAPRED_HOME=$hadoop_home" \
  mapreduce.map.env "HADOOP_MAPRED_HOME=$hadoop_home" \
  mapreduce.reduce.env "HADOOP_MAPRED_HOME=$hadoop_home" \
  yarn.app.mapreduce.am.resource.mb 1024 \
  yarn.app.mapreduce.am.command-opts -Xmx768m \
  mapreduce.map.memory.mb 512 \
  mapreduce.reduce.memory.mb 512

echo "hadoop: configured for master $master (replication $replication, NodeManager ${nm_memory} MB, $vcores vcores)"
