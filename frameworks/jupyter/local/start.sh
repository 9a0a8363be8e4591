# jupyter start (local master): JupyterLab on this node's address, port 8888, with the
# token. When the cluster has Spark, notebooks find pyspark, and DISCO_SPARK_MASTER names
# the cluster's master.
set -euo pipefail
: "${PARAM_VERSION:?}" "${DISCO_HOME:?}" "${DISCO_NODE_ADDRESS:?}" "${DISCO_MASTER_ADDRESS:?}"
: "${DISCO_SHARED_DIR:?}"

disco_venv jupyter "$PARAM_VERSION" >/dev/null
self=$DISCO_NODE_ADDRESS
home=$DISCO_HOME/jupyter
environment=(
  "JUPYTER_TOKEN_FILE=$home/token"
  "JUPYTER_RUNTIME_DIR=$home/runtime"
  "JUPYTER_CONFIG_DIR=$home/config"
  "JUPYTER_DATA_DIR=$home/data"
)
if [ -f "$DISCO_HOME/spark/env.sh" ]; then
  # shellcheck disable=SC1091
  . "$DISCO_HOME/spark/env.sh"
  # pyspark and py4j sit side by side in the Spark environment's site-packages.
  environment+=("PYTHONPATH=$(dirname "$SPARK_HOME")" "DISCO_SPARK_MASTER=spark://$DISCO_MASTER_ADDRESS:7077")
fi
# With Dask in the cluster, notebooks connect to tls://<master>:8786 with its certificate.
case " ${DISCO_COMPONENTS:-} " in
  *" dask "*) environment+=("DASK_CONFIG=$DISCO_SHARED_DIR/dask/config") ;;
esac
options=(--no-browser --ip="$self" --port=8888 --port-retries=0 --ServerApp.root_dir="$home/notebooks")
# JupyterLab refuses root unless told; the local provider runs as whoever runs DISCO.
if [ "$(id -u)" = 0 ]; then options+=(--allow-root); fi
disco_daemon jupyter env "${environment[@]}" "$DISCO_VENV/bin/jupyter" lab "${options[@]}"
disco_daemon_wait jupyter 300 disco_tcp_open "$self" 8888
echo "jupyter: JupyterLab at http://$self:8888/lab (token in $home/token)"
