# spark install (local): pyspark of the requested version (Spark's own jars and scripts)
# from PyPI into a virtual environment shared by every local cluster, and the environment
# the other steps source, $DISCO_HOME/spark/env.sh. Java comes from this machine.
#
# Loopback is shared by every user of the machine, and a Spark master runs whatever code
# it is sent as this user: master, workers and drivers authenticate with the cluster's
# shared secret (spark.authenticate). It is the `secret` parameter, else made once for
# the cluster, and lives only in files this user alone can read: each node's
# spark-defaults.conf, and $DISCO_SHARED_DIR/spark/client/spark-defaults.conf for
# drivers (SPARK_CONF_DIR=that directory). Never on a command line.
set -euo pipefail
: "${PARAM_VERSION:?}" "${PARAM_SECRET?}" "${DISCO_HOME:?}" "${DISCO_NODE_ADDRESS:?}"
: "${DISCO_LOG_DIR:?}" "${DISCO_SHARED_DIR:?}" "${TMPDIR:?}"

if [[ ! $PARAM_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "spark: version must be a release like 3.5.3, got '$PARAM_VERSION'" >&2
  exit 2
fi
if [ -n "$PARAM_SECRET" ] && [[ ! $PARAM_SECRET =~ ^[A-Za-z0-9._~-]{16,}$ ]]; then
  echo "spark: the secret must be at least 16 letters, digits or . _ ~ - (not shown)" >&2
  exit 2
fi
if ! java_home=$(disco_local_java_home); then
  echo "spark: no java on PATH: the local provider runs Spark on this machine's Java 17 or 21 (Debian: apt install openjdk-17-jre-headless)" >&2
  exit 2
fi

disco_venv spark "$PARAM_VERSION" "pyspark==$PARAM_VERSION"
spark_homes=("$DISCO_VENV"/lib/python3*/site-packages/pyspark)
spark_home=${spark_homes[0]}
[ -x "$spark_home/bin/spark-class" ] || { echo "spark: no bin/spark-class in $spark_home" >&2; exit 1; }

umask 077
mkdir -p "$DISCO_HOME/spark/conf" "$DISCO_HOME/spark/work" "$TMPDIR/spark" "$DISCO_SHARED_DIR/spark/client"
# Every node installs at once: the first to take the lock makes the secret.
secret_file=$DISCO_SHARED_DIR/spark/secret
(
  flock 9
  disco_secret_file "$secret_file" "$PARAM_SECRET"
) 9>"$DISCO_SHARED_DIR/spark/secret.lock"
secret=$(<"$secret_file")
# $1: the file; $2...: lines added after the authentication settings.
write_conf() {
  local file=$1
  shift
  # Nodes write the shared client file at once: each through its own temporary file.
  printf '%s\n' "spark.authenticate true" "spark.authenticate.secret $secret" "$@" >"$file.$$.tmp"
  mv "$file.$$.tmp" "$file"
}
# The web UIs stay open to read; nobody kills applications from them.
write_conf "$DISCO_HOME/spark/conf/spark-defaults.conf" "spark.ui.killEnabled false"
write_conf "$DISCO_SHARED_DIR/spark/client/spark-defaults.conf"
{
  printf 'export SPARK_HOME=%q\n' "$spark_home"
  printf 'export JAVA_HOME=%q\n' "$java_home"
  printf 'export PYSPARK_PYTHON=%q\n' "$DISCO_VENV/bin/python"
  printf 'export SPARK_LOCAL_IP=%q\n' "$DISCO_NODE_ADDRESS"
  printf 'export SPARK_LOCAL_DIRS=%q\n' "$TMPDIR/spark"
  printf 'export SPARK_CONF_DIR=%q\n' "$DISCO_HOME/spark/conf"
  printf 'export SPARK_LOG_DIR=%q\n' "$DISCO_LOG_DIR"
  printf 'export SPARK_NO_DAEMONIZE=1\n'
  printf 'export SPARK_DAEMON_MEMORY=512m\n'
} >"$DISCO_HOME/spark/env.sh"
echo "spark: pyspark $PARAM_VERSION in $spark_home, Java in $java_home"
