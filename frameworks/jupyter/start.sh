# jupyter start (master): JupyterLab as a systemd service running as jupyter, on all
# addresses, port 8888, the token read from the systemd credential.
set -euo pipefail
: "${DISCO_HOME:?}" "${DISCO_COMPONENTS:?}"
cd /

venv=$DISCO_HOME/jupyter/venv
environment=(
  "JUPYTER_TOKEN_FILE=%d/token"
  "HOME=/var/lib/jupyter"
  "PATH=$venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)
case " $DISCO_COMPONENTS " in
  *" spark "*) environment+=("SPARK_HOME=$DISCO_HOME/spark" "PYSPARK_PYTHON=python3") ;;
  *)
    # A used cluster's Spark (icclab.disco.uses): notebooks drive its standalone master,
    # with the PySpark installed in the venv.
    if [ -n "${DISCO_USES_SPARK_MASTER_URL:-}" ]; then
      environment+=("DISCO_SPARK_MASTER=$DISCO_USES_SPARK_MASTER_URL" "PYSPARK_PYTHON=python3" "JAVA_HOME=$(disco_java_home)")
    fi
    ;;
esac
if [ -n "${DISCO_USES_DASK_SCHEDULER_ADDRESS:-}" ]; then
  environment+=("DISCO_DASK_SCHEDULER=$DISCO_USES_DASK_SCHEDULER_ADDRESS")
fi
case " $DISCO_COMPONENTS " in
  *" hadoop "*) environment+=("HADOOP_CONF_DIR=$DISCO_HOME/hadoop/etc/hadoop") ;;
esac

disco_service jupyter jupyter \
  "$venv/bin/jupyter lab --no-browser --ip=0.0.0.0 --port=8888 --ServerApp.root_dir=/var/lib/jupyter/notebooks" \
  "${environment[@]}"

# Without the token the API answers 403: that is the server up and enforcing the token.
disco_wait_http "http://127.0.0.1:8888/api/status" 300 403
echo "jupyter: JupyterLab running on port 8888"
