# jupyter configure (local): the access token (the parameter, or one generated once) in
# $DISCO_HOME/jupyter/token, readable by this user only. JupyterLab reads it from there
# (JUPYTER_TOKEN_FILE), so it is on no command line, where any user could see it.
#
# With a used cluster's Spark or Dask (icclab.disco.uses), their client configuration
# (its secret, its TLS key) in files this user alone can read: spark-conf/ is the
# notebooks' SPARK_CONF_DIR, dask/config their DASK_CONFIG.
set -euo pipefail
: "${DISCO_HOME:?}" "${PARAM_TOKEN?}"

home=$DISCO_HOME/jupyter
mkdir -p "$home/notebooks" "$home/runtime"
disco_secret_file "$home/token" "$PARAM_TOKEN"

if [ -n "${DISCO_USES_SPARK_MASTER_URL:-}" ]; then
  mkdir -p "$home/spark-conf"
  printf '%s\n' "${DISCO_USES_SPARK_CLIENT_CONF:-}" | disco_private_file "$home/spark-conf/spark-defaults.conf"
  echo "jupyter: notebooks use the Spark of cluster ${DISCO_USES_SPARK_CLUSTER:-?} at $DISCO_USES_SPARK_MASTER_URL"
fi
if [ -n "${DISCO_USES_DASK_SCHEDULER_ADDRESS:-}" ]; then
  tls=$home/dask
  mkdir -p "$tls/config"
  printf '%s\n' "${DISCO_USES_DASK_CLIENT_CERT:-}" | disco_private_file "$tls/cert.pem"
  printf '%s\n' "${DISCO_USES_DASK_CLIENT_KEY:-}" | disco_private_file "$tls/key.pem"
  disco_private_file "$tls/config/disco.yaml" <<YAML
distributed:
  comm:
    default-scheme: tls
    require-encryption: true
    tls:
      ca-file: "$tls/cert.pem"
      client: {cert: "$tls/cert.pem", key: "$tls/key.pem"}
YAML
  echo "jupyter: notebooks use the Dask scheduler of cluster ${DISCO_USES_DASK_CLUSTER:-?} at $DISCO_USES_DASK_SCHEDULER_ADDRESS"
fi
