# spark install (local): pyspark of the requested version (Spark's own jars and scripts)
# from PyPI into a virtual environment shared by every local cluster, and the environment
# the other steps source, $DISCO_HOME/spark/env.sh. Java comes from this machine.
set -euo pipefail
: "${PARAM_VERSION:?}" "${DISCO_HOME:?}" "${DISCO_NODE_ADDRESS:?}" "${DISCO_LOG_DIR:?}"
: "${DISCO_SHARED_DIR:?}" "${TMPDIR:?}"

if [[ ! $PARAM_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "spark: version must be a release like 3.5.3, got '$PARAM_VERSION'" >&2
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

mkdir -p "$DISCO_HOME/spark/conf" "$DISCO_HOME/spark/work" "$TMPDIR/spark" "$DISCO_SHARED_DIR/spark"
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
