# jupyter configure (master): the access token (the parameter, or one generated once),
# kept root-only in $DISCO_HOME/jupyter/token and handed to the service by systemd as a
# credential, so it never appears in a unit file, a command line or a log. The HDFS home
# of the jupyter user when hadoop is deployed.
set -euo pipefail
: "${DISCO_HOME:?}" "${DISCO_COMPONENTS:?}" "${DISCO_MASTER_ADDRESS:?}" "${PARAM_TOKEN?}"
cd /

token_file=$DISCO_HOME/jupyter/token
disco_secret_file "$token_file" "$PARAM_TOKEN"

# systemd copies the root-only file to a private credentials directory readable by the
# service alone; JupyterLab reads it through JUPYTER_TOKEN_FILE (see start.sh).
install -d -m 0755 /etc/systemd/system/disco-jupyter.service.d
cat >/etc/systemd/system/disco-jupyter.service.d/token.conf <<UNIT
[Service]
LoadCredential=token:$token_file
UNIT

case " $DISCO_COMPONENTS " in
  *" hadoop "*)
    hdfs=$DISCO_HOME/hadoop/bin/hdfs
    disco_wait_tcp "$DISCO_MASTER_ADDRESS" 8020 600
    timeout 600 runuser -u hadoop -- "$hdfs" dfsadmin -safemode wait
    runuser -u hadoop -- "$hdfs" dfs -mkdir -p /user/jupyter
    runuser -u hadoop -- "$hdfs" dfs -chown jupyter:jupyter /user/jupyter
    ;;
esac
echo "jupyter: configured"
