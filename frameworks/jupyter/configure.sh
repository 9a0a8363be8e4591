# jupyter configure (master): the access token (the parameter, or one generated once),
# kept root-only in $DISCO_HOME/jupyter/token and handed to the service by systemd as a
# credential, so it never appears in a unit file, a command line or a log. The HDFS home
# of the jupyter user when hadoop is deployed.
set -euo pipefail
: "${DISCO_HOME:?}" "${DISCO_COMPONENTS:?}" "${DISCO_MASTER_ADDRESS:?}" "${PARAM_TOKEN?}"
cd /

token_file=$DISCO_HOME/jupyter/token
umask 077
if [ -n "$PARAM_TOKEN" ]; then
  if [[ ! $PARAM_TOKEN =~ ^[A-Za-z0-9._~-]+$ ]]; then
    echo "jupyter: the token may only contain letters, digits and . _ ~ - (not shown)" >&2
    exit 2
  fi
  printf '%s' "$PARAM_TOKEN" >"$token_file.tmp"
  mv "$token_file.tmp" "$token_file"
  echo "jupyter: token from the parameter stored in $token_file"
elif [ ! -s "$token_file" ]; then
  od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$token_file.tmp"
  mv "$token_file.tmp" "$token_file"
  echo "jupyter: token generated and stored in $token_file"
else
  echo "jupyter: keeping the token in $token_file"
fi
chown root:root "$token_file"
chmod 0600 "$token_file"
umask 022

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
