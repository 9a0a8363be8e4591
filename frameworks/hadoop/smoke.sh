# hadoop smoke (master): a datanode and a nodemanager registered for every slave (bounded wait), then a
# file written to HDFS and read back.
set -euo pipefail
: "${DISCO_SLAVE_COUNT:?}" "${DISCO_CLUSTER_ID:?}" "${DISCO_HOME:?}"
cd /

hadoop_home=$DISCO_HOME/hadoop
expected=$DISCO_SLAVE_COUNT

as_hadoop() {
  runuser -u hadoop -- "$@"
}

# wait_count WHAT SECONDS COMMAND...: waits until COMMAND prints at least one per slave
# the cluster runs on now (DISCO may give up on a slave that failed).
wait_count() {
  local what=$1 deadline=$(($(date +%s) + $2)) count
  shift 2
  while true; do
    expected=$(disco_expected_slaves)
    [ "$expected" -gt 0 ] || expected=1   # without slaves the master runs the one datanode
    count=$("$@" 2>/dev/null || true)
    if [ "${count:-0}" -ge "$expected" ]; then
      echo "hadoop: $count $what"
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "hadoop: ${count:-no} $what after waiting, expected $expected" >&2
      return 1
    fi
    sleep 5
  done
}

live_datanodes() {
  as_hadoop "$hadoop_home/bin/hdfs" dfsadmin -report -live \
    | sed -n 's/^Live datanodes (\([0-9]*\)).*/\1/p'
}

running_nodemanagers() {
  as_hadoop "$hadoop_home/bin/yarn" node -list 2>/dev/null \
    | sed -n 's/^Total Nodes:[[:space:]]*\([0-9]*\).*/\1/p'
}

wait_count "live datanodes" 600 live_datanodes
wait_count "running nodemanagers" 600 running_nodemanagers

content="DISCO smoke test of cluster $DISCO_CLUSTER_ID at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
as_hadoop "$hadoop_home/bin/hdfs" dfs -mkdir -p /tmp/disco-smoke
printf '%s\n' "$content" | as_hadoop "$hadoop_home/bin/hdfs" dfs -put -f - /tmp/disco-smoke/hadoop.txt
read_back=$(as_hadoop "$hadoop_home/bin/hdfs" dfs -cat /tmp/disco-smoke/hadoop.txt)
if [ "$read_back" != "$content" ]; then
  echo "hadoop: HDFS returned '$read_back' instead of '$content'" >&2
  exit 1
fi
as_hadoop "$hadoop_home/bin/hdfs" dfs -rm -f -skipTrash /tmp/disco-smoke/hadoop.txt
echo "hadoop: HDFS write and read back OK"
