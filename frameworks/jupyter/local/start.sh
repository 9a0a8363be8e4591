# jupyter start (local master): JupyterLab on this node's address, port 8888, with the
# token. Notebooks find pyspark when the cluster has Spark or uses a cluster's
# (DISCO_SPARK_MASTER names its master), and dask when it has Dask or uses a cluster's
# (DISCO_DASK_SCHEDULER names the scheduler; DASK_CONFIG holds the TLS client settings).
set -euo pipefail
: "${PARAM_VERSION:?}" "${DISCO_HOME:?}" "${DISCO_NODE_ADDRESS:?}" "${DISCO_MASTER_ADDRESS:?}"
: "${DISCO_SHARED_DIR:?}"

# $1: a package's name, $2: its release: the site-packages of its environment.
site_packages() {
  disco_venv "$1" "$2" >/dev/null
  local found=("$DISCO_VENV"/lib/python3*/site-packages)
  printf '%s' "${found[0]}"
}

self=$DISCO_NODE_ADDRESS
home=$DISCO_HOME/jupyter
environment=(
  "JUPYTER_TOKEN_FILE=$home/token"
  "JUPYTER_RUNTIME_DIR=$home/runtime"
  "JUPYTER_CONFIG_DIR=$home/config"
  "JUPYTER_DATA_DIR=$home/data"
)
# Packages of other environments come after JupyterLab's own (a sitecustomize appends
# them), so that theirs never shadow its.
appended=()
if [ -f "$DISCO_HOME/spark/env.sh" ]; then
  # shellcheck disable=SC1091
  . "$DISCO_HOME/spark/env.sh"
  # pyspark and py4j sit side by side in the Spark environment's site-packages.
  appended+=("$(dirname "$SPARK_HOME")")
  environment+=("DISCO_SPARK_MASTER=spark://$DISCO_MASTER_ADDRESS:7077")
elif [ -n "${DISCO_USES_SPARK_MASTER_URL:-}" ]; then
  spark_site=$(site_packages spark "${DISCO_USES_SPARK_VERSION:?}")
  appended+=("$spark_site")
  java_home=$(disco_local_java_home) || { echo "jupyter: no java on PATH for PySpark" >&2; exit 2; }
  environment+=(
    "SPARK_HOME=$spark_site/pyspark"
    "JAVA_HOME=$java_home"
    "PYSPARK_PYTHON=${spark_site%/lib/python3*/site-packages}/bin/python"
    "SPARK_CONF_DIR=$home/spark-conf"
    "SPARK_LOCAL_IP=$self"
    "DISCO_SPARK_MASTER=$DISCO_USES_SPARK_MASTER_URL"
  )
fi
# With Dask in the cluster, notebooks connect to tls://<master>:8786 with its certificate.
case " ${DISCO_COMPONENTS:-} " in
  *" dask "*)
    appended+=("$(site_packages dask "${DISCO_PARAM_DASK_VERSION:?}")")
    environment+=("DASK_CONFIG=$DISCO_SHARED_DIR/dask/config" "DISCO_DASK_SCHEDULER=tls://$DISCO_MASTER_ADDRESS:8786")
    ;;
  *)
    if [ -n "${DISCO_USES_DASK_SCHEDULER_ADDRESS:-}" ]; then
      appended+=("$(site_packages dask "${DISCO_USES_DASK_VERSION:?}")")
      environment+=("DASK_CONFIG=$home/dask/config" "DISCO_DASK_SCHEDULER=$DISCO_USES_DASK_SCHEDULER_ADDRESS")
    fi
    ;;
esac
mkdir -p "$home/site"
{
  echo "# Written by DISCO's jupyter start step: other environments' packages, after JupyterLab's."
  echo "import sys"
  for path in "${appended[@]}"; do
    printf 'if %s not in sys.path:\n    sys.path.append(%s)\n' "'$path'" "'$path'"
  done
} >"$home/site/sitecustomize.py"
environment+=("PYTHONPATH=$home/site")

disco_venv jupyter "$PARAM_VERSION" >/dev/null
options=(--no-browser --ip="$self" --port=8888 --port-retries=0 --ServerApp.root_dir="$home/notebooks")
# JupyterLab refuses root unless told; the local provider runs as whoever runs DISCO.
if [ "$(id -u)" = 0 ]; then options+=(--allow-root); fi
disco_daemon jupyter env "${environment[@]}" "$DISCO_VENV/bin/jupyter" lab "${options[@]}"
disco_daemon_wait jupyter 300 disco_tcp_open "$self" 8888
echo "jupyter: JupyterLab at http://$self:8888/lab (token in $home/token)"
